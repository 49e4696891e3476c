"""The ASGI application: the JSON API (``cloud.api``) and the web pages (``cloud.web``) on one
FastAPI app, sharing settings, the session factory, error handling and middleware."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from cloud import web
from cloud.api.app import build
from cloud.jobs.service import register_handlers
from cloud.settings import Settings


def create_app(
    settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None
) -> FastAPI:
    register_handlers()  # domain event handlers (also registered on import; explicit here)
    app = build(settings, session_factory)
    web.install(app)
    return app
