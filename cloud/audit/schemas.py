"""How an audited field change reads in the API (every ``.../history`` route)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class FieldChangeRead(BaseModel):
    """One changed field: who (user or device), when, old and new value as stored, and why."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    field: str
    old_value: str | None
    new_value: str | None
    at: datetime
    by_user_id: int | None
    by_device_id: str | None
    reason: str | None
