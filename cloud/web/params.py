"""Path and query parameter types of the pages (the API has its own in ``cloud.api.params``;
the web package never imports the API)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, model_validator

from cloud.types import MAX_ID

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
Cursor = Annotated[str | None, Query(max_length=200)]
"""An opaque keyset cursor a list handed out."""
Search = Annotated[str | None, Query(max_length=100)]


class WebQuery(BaseModel):
    """Base of a page's query-string model (``Annotated[Model, Query()]``). A filter form
    sends every field, the empty ones as ``""``: those mean "not given"."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if v == "" else v) for k, v in data.items()}
        return data
