"""Typed dependencies: the request's database session (one transaction) and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from cloud.devices.models import Device
from cloud.errors import Unauthorized
from cloud.http.deps import (
    AppSettings,
    CurrentUser,
    DbSession,
    MissingToken,
    allowed,
    get_principal,
    get_session,
    get_settings,
)

# Shared with the web pages: defined in cloud.http, re-exported for the routers.
__all__ = [
    "AppSettings",
    "CurrentDevice",
    "CurrentUser",
    "DbSession",
    "MissingToken",
    "allowed",
    "get_principal",
    "get_session",
    "get_settings",
]


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
