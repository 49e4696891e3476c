"""One base error for the cloud; each domain subclasses it with its HTTP status."""

from __future__ import annotations


class AppError(Exception):
    status_code: int = 500
    headers: dict[str, str] | None = None
    """Extra response headers (``Retry-After`` on a 429), sent by the API's error handler."""

    def payload(self) -> dict[str, object]:
        """More fields for the error body besides ``error`` and ``detail`` (JSON-ready), such
        as the rejected rows of an import. None by default."""
        return {}

    def __init__(self, detail: str, *, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class Unauthorized(AppError):
    status_code = 401
    auth_scheme = "Bearer"
    """Sent back in ``WWW-Authenticate``: how the caller should authenticate."""


class Forbidden(AppError):
    status_code = 403


class BadRequest(AppError):
    status_code = 400


class Unprocessable(AppError):
    """422: the payload is well-formed, but what it says cannot be accepted (an unknown
    reference, a date out of range, a file that is not what it claims)."""

    status_code = 422


class PayloadTooLarge(AppError):
    status_code = 413


class TooManyRequests(AppError):
    """429: the caller has to wait; set ``headers={"Retry-After": ...}`` where that is known."""

    status_code = 429
