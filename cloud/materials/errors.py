"""Errors of materials and waste streams (afvalstroomnummers)."""

from __future__ import annotations

from cloud.errors import Conflict, NotFound, Unprocessable


class MaterialNotFound(NotFound):
    pass


class WasteStreamNotFound(NotFound):
    pass


class MaterialExists(Conflict):
    """Another material of the tenant has this code."""


class WasteStreamExists(Conflict):
    """Another waste stream of the tenant has this afvalstroomnummer."""


class WasteStreamInvalid(Unprocessable):
    """The afvalstroomnummer does not fit its processor, or its validity is inverted."""


class WasteStreamNotValid(Unprocessable):
    """An order names an afvalstroomnummer that does not fit it (another customer, another
    material, not valid on the date, inactive). ``reasons`` lists every mismatch."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.field = "waste_stream_id"
