"""The JSON API part of the application: HTTP only, on top of the cloud domain services.

The application itself (API and web pages together) is put together in
``cloud.entrypoints.app``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from cloud.api import errors
from cloud.api.middleware import RequestLimitsMiddleware, SecurityHeadersMiddleware
from cloud.api.routers import (
    articles,
    auth,
    containers,
    customers,
    devices,
    documents,
    fleet,
    imports,
    intake,
    materials,
    orders,
    portal,
    schedules,
    users,
    web,
)
from cloud.db import make_engine, make_sessionmaker
from cloud.settings import Settings, get_settings


def docs_enabled(settings: Settings) -> bool:
    """``/api/docs`` and ``/api/openapi.json``: on outside production, off in production
    unless ``OMS_API_DOCS=true``."""
    if settings.api_docs is not None:
        return settings.api_docs
    return settings.environment != "production"


def build(
    settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None
) -> FastAPI:
    settings = settings or get_settings()
    if session_factory is None:
        engine = make_engine(
            settings.sqlalchemy_url, echo=settings.db_echo, pool_size=settings.db_pool_size
        )
        session_factory = make_sessionmaker(engine)
    docs = docs_enabled(settings)
    app = FastAPI(
        title="OMS",
        version="0.1.0",
        docs_url=None,  # served by web.docs_router from vendored assets
        redoc_url=None,
        openapi_url="/api/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.stream_slots = devices.StreamSlots(
        per_user=settings.sse_max_streams_per_user, per_tenant=settings.sse_max_streams_per_tenant
    )
    errors.install(app)
    app.include_router(auth.router)
    app.include_router(orders.router)
    app.include_router(devices.router)
    app.include_router(documents.router)
    for module in (
        customers,
        fleet,
        containers,
        materials,
        articles,
        imports,
        users,
        intake,
        schedules,
        portal,
    ):
        app.include_router(module.router)
    app.include_router(web.router)
    if docs:
        app.include_router(web.docs_router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    # The last added runs first: headers go on every answer, the limits' refusals included.
    app.add_middleware(
        RequestLimitsMiddleware,
        max_json_body_bytes=settings.max_json_body_bytes,
        max_json_keys=settings.max_json_keys,
        max_form_body_bytes=settings.max_form_body_bytes,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
