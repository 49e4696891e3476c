"""Server-rendered pages (Jinja2 + htmx) beside the JSON API, calling the same services.

See ``cloud/web/README.md`` for the layout, the macros, the language catalogues and the list
of pages with the permission each requires."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cloud.web import assets

log = structlog.get_logger("cloud.web")
STATIC = Path(__file__).resolve().parent / "static"
AREAS = ("cloud.web.auth", "cloud.web.orders", "cloud.web.users", "cloud.web.portal")
OPTIONAL_AREAS = ("cloud.web.masterdata",)
"""Areas written later: included when the module exists (it must expose ``router``)."""


class VendorAssetsMissing(RuntimeError):
    pass


def install(app: FastAPI) -> None:
    """Add the web pages to the application (``app.state`` holds settings and sessions)."""
    missing = assets.missing()
    if missing:
        message = (
            f"web assets missing in {assets.VENDOR}: {missing}; "
            "run `python -m cloud.web.assets install` (part of `make setup`)"
        )
        if app.state.settings.environment == "production":
            raise VendorAssetsMissing(message)
        log.warning("web.assets_missing", missing=missing)
    for name in AREAS:
        app.include_router(importlib.import_module(name).router)
    for name in OPTIONAL_AREAS:
        if importlib.util.find_spec(name) is None:
            continue
        router = getattr(importlib.import_module(name), "router", None)
        if router is None:  # an area being written: its own tests find its pages missing
            log.warning("web.area_without_router", area=name)
            continue
        app.include_router(router)
    app.mount("/assets", StaticFiles(directory=STATIC), name="web-assets")
