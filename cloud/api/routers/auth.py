"""Log in (a bearer token for an e-mail and password), who am I, log out. Every logged-in
user may do these: no permission action guards them."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from cloud.api.deps import AppSettings, CurrentUser, DbSession
from cloud.db import transaction
from cloud.tenancy import service
from cloud.tenancy.schemas import LoginRequest, Me, PasswordChange, TokenResponse

router = APIRouter(prefix="/api/v1", tags=["auth"])


def client_address(request: Request) -> str:
    """The client's address as uvicorn reports it, which the login throttle counts per.
    uvicorn replaces the peer address with ``X-Forwarded-For`` only for proxies it trusts
    (``--proxy-headers``, on by default, with ``--forwarded-allow-ips`` or the environment
    variable ``FORWARDED_ALLOW_IPS``; default 127.0.0.1). Behind a proxy elsewhere, set that to
    the proxy's address, or every client shares the proxy's per-address budget; never set it
    to ``*`` when clients can reach uvicorn directly, or they choose their own address."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    responses={
        401: {"description": "wrong e-mail or password (the same answer for unknown users)"},
        429: {"description": "too many failed logins; see `Retry-After`"},
    },
)
def login(request: Request, body: LoginRequest, settings: AppSettings) -> TokenResponse:
    """Exchange an e-mail and password for a bearer token. Failed attempts are throttled per
    account and per client address (settings ``login_*``) and counted in the database, so
    every API process sees them."""
    policy = service.LoginPolicy(
        max_failures_per_account=settings.login_max_failures_per_account,
        max_failures_per_address=settings.login_max_failures_per_address,
        window_s=settings.login_failure_window_s,
        lockout_s=settings.login_lockout_s,
        key=settings.secret_key.get_secret_value().encode(),
    )
    # Its own transaction, not the request's: a refused attempt is committed before the
    # refusal is raised (the request's session would roll it back).
    with transaction(request.app.state.session_factory) as session:
        result = service.login(
            session,
            email=body.email,
            password=body.password,
            ttl=timedelta(hours=settings.token_ttl_hours),
            address=client_address(request),
            policy=policy,
        )
    if result.refusal is not None:
        raise result.refusal
    assert result.token is not None
    return TokenResponse(access_token=result.token, expires_at=result.expires_at)


@router.delete("/auth/token", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(principal: CurrentUser, session: DbSession) -> Response:
    """Log out: the token this request carries is revoked on the server and answers 401 from
    now on, on every API process."""
    if principal.token_id is not None:
        service.revoke_token(session, token_id=principal.token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def change_password(body: PasswordChange, principal: CurrentUser, session: DbSession) -> Response:
    """Change your own password (the current one is asked). Your other sessions end; the
    token of this request keeps working."""
    service.change_own_password(
        session,
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_token_id=principal.token_id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=Me)
def me(principal: CurrentUser) -> Me:
    """Who is logged in: roles, language, and the actions (``cloud.permissions``) the user
    may do, so that a front end shows only what will be allowed."""
    return Me(
        user_id=principal.user_id,
        tenant_id=principal.tenant_id,
        email=principal.email,
        name=principal.name,
        roles=sorted(principal.roles),
        customer_id=principal.customer_id,
        locale=principal.locale,
        actions=service.allowed_actions(principal.roles),
    )
