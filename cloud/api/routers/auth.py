from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cloud.api.deps import AppSettings, CurrentUser, DbSession
from cloud.tenancy import service

router = APIRouter(prefix="/api/v1", tags=["auth"])


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_at: datetime | None


class Me(BaseModel):
    user_id: int
    tenant_id: int
    email: str
    roles: list[str]
    customer_id: int | None


@router.post("/auth/token", response_model=TokenResponse)
def login(body: LoginRequest, session: DbSession, settings: AppSettings) -> TokenResponse:
    token, expires_at, _user = service.login(
        session,
        email=body.email,
        password=body.password,
        ttl=timedelta(hours=settings.token_ttl_hours),
    )
    return TokenResponse(access_token=token, expires_at=expires_at)


@router.get("/me", response_model=Me)
def me(principal: CurrentUser) -> Me:
    return Me(
        user_id=principal.user_id,
        tenant_id=principal.tenant_id,
        email=principal.email,
        roles=sorted(principal.roles),
        customer_id=principal.customer_id,
    )
