"""Typed dependencies: the request's database session (one transaction) and the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from sqlalchemy.orm import Session

from cloud.devices.models import Device
from cloud.errors import Forbidden, Unauthorized
from cloud.settings import Settings
from cloud.tenancy.service import Principal, authenticate

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back when it
    raises."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


DbSession = Annotated[Session, Depends(get_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]


class MissingToken(Unauthorized):
    pass


def get_principal(
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise MissingToken("send 'Authorization: Bearer <token>'")
    return authenticate(session, token=credentials.credentials)


CurrentUser = Annotated[Principal, Depends(get_principal)]


class RoleRequired(Forbidden):
    pass


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    def check(principal: CurrentUser) -> Principal:
        if not principal.roles & set(roles):
            raise RoleRequired(f"needs one of the roles {sorted(roles)}")
        return principal

    return check


_basic = HTTPBasic(auto_error=False, description="device id and its broker password")


class DeviceUnauthorized(Unauthorized):
    auth_scheme = "Basic"


def get_device(
    session: DbSession,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> Device:
    """Devices authenticate with the same credential they use at the broker."""
    from cloud.devices.credentials import verify_password

    if credentials is None:
        raise DeviceUnauthorized("send HTTP Basic credentials: device id and password")
    device = session.get(Device, credentials.username)
    if (
        device is None
        or device.revoked_at is not None
        or not device.credential_hash
        or not verify_password(credentials.password, device.credential_hash)
    ):
        raise DeviceUnauthorized("unknown device, wrong password or revoked")
    return device


CurrentDevice = Annotated[Device, Depends(get_device)]
