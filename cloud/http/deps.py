"""Typed FastAPI dependencies: one transaction per request, the settings, the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from cloud.errors import Unauthorized
from cloud.permissions import Action, require
from cloud.settings import Settings
from cloud.tenancy.service import Principal, authenticate

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back when it
    raises."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


DbSession = Annotated[Session, Depends(get_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]


class MissingToken(Unauthorized):
    pass


def get_principal(
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise MissingToken("send 'Authorization: Bearer <token>'")
    return authenticate(session, token=credentials.credentials)


CurrentUser = Annotated[Principal, Depends(get_principal)]


def allowed(action: Action) -> Callable[[Principal], Principal]:
    """A dependency: the caller, if ``cloud.permissions`` lets its roles do ``action``
    (else 403). Use as ``Annotated[Principal, Depends(allowed(Action.X))]``."""

    def check(principal: CurrentUser) -> Principal:
        require(principal, action)
        return principal

    check.__name__ = f"allowed_{action.name.lower()}"
    check.action = action  # type: ignore[attr-defined] # read by the authorization test
    return check
