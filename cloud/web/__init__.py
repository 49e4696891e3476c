"""Server-rendered pages (Jinja2 + htmx) beside the JSON API, calling the same services."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add the web pages to the application (``app.state`` holds settings and sessions)."""
