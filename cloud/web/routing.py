"""Web routers: HTML errors instead of JSON, cookies set on every answer, CSRF on every form.

``make_router()`` is what every area uses (``cloud.web.masterdata`` too): routes answer an
``AppError`` with the error page in the user's language and the error's status (404 page for
another customer's or another tenant's order, 403 page for a role that may not), a missing
login with a redirect to ``/login?next=...`` (htmx requests: ``HX-Redirect``), and a bad
query or path parameter with the 422 page. Every non-GET request must pass ``check_csrf``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from cloud.errors import AppError
from cloud.web.session import (
    CSRF_COOKIE,
    FLASH_COOKIE,
    LANG_COOKIE,
    LoginRequired,
    check_csrf,
    delete_cookie,
    refuse_before_body,
    set_cookie,
    state,
)
from cloud.web.templating import render

log = structlog.get_logger("cloud.web")
YEAR = 365 * 24 * 3600


class WebRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                refuse_before_body(request)  # before FastAPI reads a form body
                response = await handler(request)
            except LoginRequired:
                response = login_redirect(request)
            except AppError as exc:
                response = error_page(request, exc.status_code, exc.detail, type(exc).__name__)
            except RequestValidationError as exc:
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                    for e in exc.errors()
                )
                response = error_page(request, 422, detail, "ValidationError")
            finish(request, response)
            return response

        return page


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = f"/login?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, status_code: int, detail: str, error: str) -> Response:
    log.info("web.error_page", path=request.url.path, status=status_code, error=error)
    return render(
        request,
        "error.html",
        status_code=status_code,
        status=status_code,
        detail=detail,
        error=error,
    )


def finish(request: Request, response: Response) -> None:
    """Cookies the request decided on (CSRF token, language, flash consumed), unless the
    route set the same cookie itself. Pages are never cached (they show a user's data)."""
    page = state(request)
    already = {
        value.decode("latin-1").split("=", 1)[0]
        for name, value in response.raw_headers
        if name.lower() == b"set-cookie"
    }
    for name, value in page.set_cookies.items():
        if name in already:
            continue
        if name == CSRF_COOKIE:
            set_cookie(request, response, name, value, samesite="strict")
        elif name == LANG_COOKIE:
            set_cookie(request, response, name, value, max_age=YEAR, samesite="lax")
        elif name == FLASH_COOKIE:
            delete_cookie(request, response, name, samesite="lax")
    response.headers.setdefault("cache-control", "no-store")


def make_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` for pages: hidden from the OpenAPI document, HTML errors, CSRF."""
    return APIRouter(
        route_class=WebRoute,
        include_in_schema=False,
        dependencies=[Depends(check_csrf), *kwargs.pop("dependencies", [])],
        **kwargs,
    )
