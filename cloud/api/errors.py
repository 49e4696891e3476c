"""Error rendering: ``{"error": "<ClassName>", "detail": ...}`` for every error (plus what an
error's ``payload()`` adds, e.g. an import's rejected rows), including
unknown routes (404), wrong methods (405) and, as a last resort, unexpected exceptions (500,
logged with the traceback; the detail never shows internals)."""

from __future__ import annotations

from http import HTTPStatus

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud.errors import AppError, Unauthorized

log = structlog.get_logger("cloud.api.errors")


def _http_error_name(status_code: int) -> str:
    """``404`` -> ``NotFound``, ``405`` -> ``MethodNotAllowed``: the status phrase as a name."""
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        return "HTTPException"
    return "".join(word.capitalize() for word in phrase.replace("-", " ").split())


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        headers = dict(exc.headers or {})
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = exc.auth_scheme
        body = {
            **jsonable_encoder(exc.payload()),
            "error": type(exc).__name__,
            "detail": exc.detail,
        }
        return JSONResponse(body, status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(
            {"error": "ValidationError", "detail": jsonable_encoder(fields)}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": _http_error_name(exc.status_code), "detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Last resort: every 500 is a bug to fix at its cause (the fuzz tests look for them),
        # but the client still gets the documented error shape, not a plain-text page.
        log.error(
            "api.unexpected_error",
            method=request.method,
            path=request.url.path,
            error=type(exc).__name__,
            exc_info=exc,
        )
        return JSONResponse(
            {"error": "InternalError", "detail": "an unexpected error occurred; it was logged"},
            status_code=500,
        )
