"""The one router of the master data pages (``cloud.web.routing.make_router``: HTML errors,
cookies, CSRF on every form); ``pages`` and ``imports`` add their routes to it."""

from __future__ import annotations

from cloud.web.routing import make_router

router = make_router(prefix="/masterdata")
