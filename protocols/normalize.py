"""Conventions both sides apply to values in messages: unit conversion for thresholds and
totals, and how a licence plate is compared."""

from __future__ import annotations

import re
from decimal import Decimal

KG_PER: dict[str, Decimal] = {
    "kg": Decimal(1),
    "t": Decimal(1000),
    "g": Decimal("0.001"),
    "lb": Decimal("0.45359237"),
}


def to_kg(value: Decimal, unit: str) -> Decimal:
    """Exact conversion (the pound is defined as 0.45359237 kg). Tickets and measurements keep
    the unit the indicator showed; this is for thresholds and totals."""
    return value * KG_PER[unit]


def plate_key(plate: str) -> str:
    """Dutch plates are written with or without dashes and in any case: ``bx-123-z``,
    ``BX 123 Z`` and ``BX123Z`` are the same vehicle."""
    return re.sub(r"[^0-9A-Z]", "", plate.upper())
