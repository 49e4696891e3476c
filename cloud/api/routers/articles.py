"""articles routes (issue 9): HTTP only; the rules are in the domain services."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/articles", tags=["articles"])
