"""Path and query parameter types with the limits of the columns behind them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from cloud.types import MAX_ID, MAX_OFFSET, SHA256_PATTERN

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="a row id")]
DeviceIdPath = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"),
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
Limit = Annotated[int, Query(ge=1, le=500, description="rows per page")]
Sha256Path = Annotated[
    str,
    Path(min_length=64, max_length=64, pattern=SHA256_PATTERN, description="sha256, hex"),
]
