"""Errors of recurring schedules."""

from __future__ import annotations

from cloud.errors import NotFound, Unprocessable


class ScheduleNotFound(NotFound):
    pass


class InvalidSchedule(Unprocessable):
    """A change that leaves the schedule inconsistent (an until date before the start...)."""
