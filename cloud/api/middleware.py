"""ASGI middleware at the edge of the API: security headers on every response, and request
checks that run before any route, dependency or database sees the request.

- A JSON body (``application/json``, ``application/*+json``, or no content type at all, which
  FastAPI also parses as JSON) is read here up to ``max_json_body_bytes``, counted while it
  streams in (a lying or missing ``Content-Length`` and chunked bodies change nothing), and
  refused with 413 beyond that. It is then parsed once and walked: more than ``max_json_keys``
  keys and values together is refused with 413, before pydantic builds one error per key.
- Any other body (forms, multipart, ``text/csv``, ``text/plain``...) may have at most
  ``max_form_body_bytes``: a larger ``Content-Length`` is refused with 413 at once, and the
  bytes are counted as the route reads them (413 when there are more, whatever the route was
  doing with them). The document uploads (``/api/v1/device/documents/...`` and
  ``/api/v1/orders/{id}/documents``) check their own, larger limit
  (``cloud.documents.content.MAX_UPLOAD_BYTES``); here they are held to that limit plus room
  for the multipart framing, never to the form limit.
- U+0000 in the path, in a query parameter, or in a JSON key or string is refused with 422
  naming where: PostgreSQL cannot store NUL in text, and the database must never be the one to
  find out.

Every refusal renders ``{"error": ..., "detail": ...}`` like the app's error handlers.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.documents.content import MAX_UPLOAD_BYTES
from cloud.errors import PayloadTooLarge

NUL = "\x00"
NUL_MSG = "the NUL character (U+0000) is not allowed"

# Pages may load scripts, styles and images only from this origin, never inline script, and
# may not be framed. Swagger UI draws its icons as data: URIs.
HTML_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Anything else (JSON, files) is data: it may run nothing and load nothing when opened.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"


UPLOAD_PATHS = re.compile(r"^/api/v1/(?:device/documents/[^/]+|orders/[^/]+/documents)/?$")
"""Routes that read and cap uploads themselves (``cloud.api.routers.documents``)."""
UPLOAD_FRAMING = 1_048_576
"""Room for the multipart boundary, part headers and a file name around an upload."""


class RequestBodyTooLarge(PayloadTooLarge):
    pass


class RequestBodyTooComplex(PayloadTooLarge):
    """A JSON body with more keys and values than any route takes, or nested too deeply."""


def _error(name: str, detail: Any, status_code: int) -> JSONResponse:
    return JSONResponse({"error": name, "detail": detail}, status_code=status_code)


def _nul_error(loc: list[str | int]) -> JSONResponse:
    return _error("ValidationError", [{"loc": loc, "msg": NUL_MSG, "type": "nul_character"}], 422)


class SecurityHeadersMiddleware:
    """Adds headers a route did not set itself: a CSP (strict for HTML, deny-all for the
    rest), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
    ``X-Frame-Options: DENY`` (for browsers without ``frame-ancestors``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                for name, value in (
                    ("content-security-policy", HTML_CSP if html else DATA_CSP),
                    ("x-content-type-options", "nosniff"),
                    ("referrer-policy", "no-referrer"),
                    ("x-frame-options", "DENY"),
                ):
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True
    main = content_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or (
        main.startswith("application/") and main.endswith("+json")
    )


class RequestLimitsMiddleware:
    """The request checks described in the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_json_body_bytes: int,
        max_json_keys: int,
        max_form_body_bytes: int,
        max_upload_body_bytes: int = MAX_UPLOAD_BYTES + UPLOAD_FRAMING,
    ) -> None:
        self.app = app
        self.max_bytes = max_json_body_bytes
        self.max_keys = max_json_keys
        self.max_form_bytes = max_form_body_bytes
        self.max_upload_bytes = max(max_upload_body_bytes, max_form_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._check_url(scope)
        if refusal is None:
            headers = Headers(scope=scope)
            has_body = "transfer-encoding" in headers or headers.get("content-length", "0") != "0"
            if has_body and _is_json(headers.get("content-type")):
                refusal, receive = await self._check_json(headers, receive)
            elif has_body:
                limit = (
                    self.max_upload_bytes
                    if UPLOAD_PATHS.match(scope["path"])
                    else self.max_form_bytes
                )
                declared = headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    refusal = _body_too_large(limit)
                else:
                    await _capped(self.app, scope, receive, send, limit)
                    return
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_url(self, scope: Scope) -> JSONResponse | None:
        if NUL in scope["path"]:
            return _nul_error(["path"])
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if NUL in name or NUL in value:
                    return _nul_error(["query", name.replace(NUL, "\\u0000")])
            return _nul_error(["query"])
        return None

    async def _check_json(
        self, headers: Headers, receive: Receive
    ) -> tuple[JSONResponse | None, Receive]:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return self._too_large(), receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away mid-body
                return None, _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return self._too_large(), receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refusal = self._check_document(body)
        return refusal, _replay([{"type": "http.request", "body": body}], receive)

    def _too_large(self) -> JSONResponse:
        return _error(
            RequestBodyTooLarge.__name__,
            f"a JSON body may have at most {self.max_bytes} bytes",
            RequestBodyTooLarge.status_code,
        )

    def _check_document(self, body: bytes) -> JSONResponse | None:
        try:
            document = json.loads(body)
        except RecursionError:
            return _error(
                RequestBodyTooComplex.__name__,
                "the JSON body is nested too deeply",
                RequestBodyTooComplex.status_code,
            )
        except ValueError:
            return None  # not JSON: the route's validation says so, in its own words
        return self._walk(document)

    def _walk(self, document: Any) -> JSONResponse | None:
        """Counts keys and values, stopping as soon as there are too many, and looks for NUL
        in every key and string (in the parsed document: ``json.loads`` also takes UTF-16)."""
        count = 1
        stack: list[tuple[list[str | int], Any]] = [(["body"], document)]
        while stack:
            loc, value = stack.pop()
            if isinstance(value, dict | list):
                count += len(value)  # counted before anything is pushed
                if count > self.max_keys:
                    return _error(
                        RequestBodyTooComplex.__name__,
                        f"a JSON body may have at most {self.max_keys} keys and values",
                        RequestBodyTooComplex.status_code,
                    )
                if isinstance(value, dict):
                    for key, item in value.items():
                        if NUL in key:
                            return _nul_error([*loc, key.replace(NUL, "\\u0000")])
                        stack.append(([*loc, key], item))
                else:
                    stack.extend(([*loc, i], item) for i, item in enumerate(value))
            elif isinstance(value, str) and NUL in value:
                return _nul_error(loc)
        return None


def _body_too_large(limit: int) -> JSONResponse:
    return _error(
        RequestBodyTooLarge.__name__,
        f"a body of this kind may have at most {limit} bytes",
        RequestBodyTooLarge.status_code,
    )


async def _capped(app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    """Runs the app with the body counted as it reads it. Past ``limit`` the read fails
    (``RequestBodyTooLarge``, then as if the client had gone), and whatever the app answers
    to that is replaced by the 413 (unless it had started answering before)."""
    size = 0
    exceeded = False
    started = False
    refused = False

    async def counting() -> Message:
        nonlocal size, exceeded
        if exceeded:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                exceeded = True
                raise RequestBodyTooLarge(f"a body of this kind may have at most {limit} bytes")
        return message

    async def answer(message: Message) -> None:
        nonlocal started, refused
        if exceeded and not started:
            if not refused:
                refused = True
                await _body_too_large(limit)(scope, receive, send)
            return  # the app's own answer to the failed read
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, counting, answer)
    except RequestBodyTooLarge:
        if started:
            raise
        if not refused:
            refused = True
            await _body_too_large(limit)(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out the messages already read, then the real ones (so a
    streaming route still hears the client disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
