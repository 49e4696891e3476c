"""The FastAPI application: HTTP only, on top of the cloud domain services."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from cloud.api import errors
from cloud.api.routers import auth, devices, documents, orders, web
from cloud.db import make_engine, make_sessionmaker
from cloud.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None
) -> FastAPI:
    settings = settings or get_settings()
    if session_factory is None:
        engine = make_engine(
            settings.sqlalchemy_url, echo=settings.db_echo, pool_size=settings.db_pool_size
        )
        session_factory = make_sessionmaker(engine)
    app = FastAPI(
        title="OMS", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json"
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    errors.install(app)
    app.include_router(auth.router)
    app.include_router(orders.router)
    app.include_router(devices.router)
    app.include_router(documents.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app
