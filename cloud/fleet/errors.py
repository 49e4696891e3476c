"""Errors of the fleet (vehicles and drivers)."""

from __future__ import annotations

from cloud.errors import Conflict, NotFound, Unprocessable


class VehicleNotFound(NotFound):
    pass


class DriverNotFound(NotFound):
    pass


class VehicleExists(Conflict):
    """Another vehicle of the tenant has this plate or RFID card."""


class DriverExists(Conflict):
    """The user already has a driver record (one per user)."""


class VehicleInvalid(Unprocessable):
    """The vehicle's fields contradict each other (a customer vehicle without its customer)."""


class DriverInvalid(Unprocessable):
    """The driver's fields contradict each other (an ADR date without ADR)."""


class NotADriver(Unprocessable):
    """The user named is not an active user of the tenant with the driver role."""

    def __init__(self, field: str, user_id: int) -> None:
        super().__init__(f"{field}: user {user_id} is not an active user with the driver role")
        self.field = field
