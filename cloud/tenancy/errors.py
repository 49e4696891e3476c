"""Errors of tenants, users and logins; each carries its HTTP status through ``AppError``."""

from __future__ import annotations

from cloud.errors import Conflict, NotFound, TooManyRequests, Unauthorized, Unprocessable


class InvalidCredentials(Unauthorized):
    """Wrong e-mail or password (the same answer for unknown and disabled users)."""


class InvalidToken(Unauthorized):
    pass


class LoginThrottled(TooManyRequests):
    """Too many failed logins for this account or from this address; ``retry_after`` is in
    whole seconds and goes out as the ``Retry-After`` header."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class TenantNotFound(NotFound):
    pass


class TenantExists(Conflict):
    pass


class UserNotFound(NotFound):
    pass


class EmailTaken(Conflict):
    """E-mail addresses are unique over all tenants: the login knows no tenant."""


class UnknownRole(Unprocessable):
    pass


class RolesRequired(Unprocessable):
    """A user needs at least one role."""


class CustomerLinkInvalid(Unprocessable):
    """A customer user needs its customer, and only a customer user may have one."""


class UnknownCustomerNumber(Unprocessable):
    pass


class LastOwner(Conflict):
    """The change would leave the tenant without an active owner, and so without anyone
    who can manage users."""


class WrongPassword(Unprocessable):
    """The current password given to change it is not the user's."""
