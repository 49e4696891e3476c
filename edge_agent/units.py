from __future__ import annotations

from decimal import Decimal

TO_KG = {"kg": Decimal(1), "t": Decimal(1000), "g": Decimal("0.001"), "lb": Decimal("0.45359237")}


def to_kg(value: Decimal, unit: str) -> Decimal:
    """For thresholds only: tickets and measurements keep the unit the indicator showed."""
    return value * TO_KG[unit]
