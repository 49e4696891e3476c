"""Refusals of ingest's own handlers. Like every ``AppError`` a handler raises, each becomes a
dead letter whose reason is the class name in snake case (``not_a_truck``)."""

from __future__ import annotations

from cloud.errors import Forbidden, Unprocessable


class NotATruck(Forbidden):
    """A driver-made order from a device that is not a truck's on-board agent."""


class DriverOrderInvalid(Unprocessable):
    """A driver-made order that the contract allows but an order cannot hold."""
