"""Errors of the containers domain."""

from __future__ import annotations

from cloud.errors import Conflict, NotFound, Unprocessable


class ContainerNotFound(NotFound):
    pass


class ContainerExists(Conflict):
    """Another container of the tenant has this number or RFID tag."""


class ContainerLocationInvalid(Unprocessable):
    """``location_kind`` and ``site_id``/``vehicle_id`` do not say the same thing."""
