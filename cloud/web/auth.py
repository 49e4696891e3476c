"""Logging in and out of the web pages, and the home page (which sends each role where it
works). The login form posts to the server, which answers with a redirect: after logging in
the browser is on another page, and the form is gone."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from cloud.db import transaction
from cloud.errors import TooManyRequests
from cloud.http.deps import AppSettings, DbSession
from cloud.permissions import Action
from cloud.tenancy import service as tenancy
from cloud.tenancy.errors import WrongPassword
from cloud.tenancy.schemas import PasswordChange
from cloud.web.routing import make_router
from cloud.web.session import (
    SESSION_COOKIE,
    CurrentWebUser,
    WebUser,
    delete_cookie,
    login_token,
    optional_user,
    safe_next,
    set_cookie,
)
from cloud.web.templating import flash, render

router = make_router()


def home_for(user: WebUser) -> str:
    if user.can(Action.ORDER_CREATE) or not user.can(Action.ORDER_REQUEST):
        return "/orders" if user.can(Action.ORDER_READ) else "/users"
    return "/portal"


@router.get("/")
def home(request: Request, session: DbSession) -> Response:
    user = optional_user(request, session)
    return RedirectResponse(home_for(user) if user else "/login", status_code=303)


@router.get("/login")
def login_form(request: Request, session: DbSession, next: str | None = None) -> Response:
    user = optional_user(request, session)
    if user is not None:
        return RedirectResponse(safe_next(next, home_for(user)), status_code=303)
    return render(request, "login.html", next=safe_next(next, ""), email="", error=None)


@router.post("/login")
def login(
    request: Request,
    settings: AppSettings,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    policy = tenancy.LoginPolicy(
        max_failures_per_account=settings.login_max_failures_per_account,
        max_failures_per_address=settings.login_max_failures_per_address,
        window_s=settings.login_failure_window_s,
        lockout_s=settings.login_lockout_s,
        key=settings.secret_key.get_secret_value().encode(),
    )
    ttl = timedelta(hours=settings.token_ttl_hours)
    # Its own transaction: a refused attempt is stored even though the answer is an error.
    with transaction(request.app.state.session_factory) as session:
        result = tenancy.login(
            session,
            email=email,
            password=password,
            ttl=ttl,
            address=request.client.host if request.client else "unknown",
            policy=policy,
        )
        user = None
        if result.token is not None:
            user = tenancy.authenticate(session, token=result.token)
    if result.refusal is not None or result.token is None or user is None:
        throttled = isinstance(result.refusal, TooManyRequests)
        return render(
            request,
            "login.html",
            status_code=429 if throttled else 401,
            headers=result.refusal.headers if result.refusal else None,
            next=safe_next(next, ""),
            email=email,
            error="login.throttled" if throttled else "login.failed",
        )
    target = safe_next(next, "")
    if not target:
        roles = WebUser(principal=user, name="", locale="nl")
        target = home_for(roles)
    response = RedirectResponse(target, status_code=303)
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        result.token,
        max_age=int(ttl.total_seconds()),
        samesite="lax",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, user: CurrentWebUser) -> Response:
    """Revokes the token on the server: the cookie, if kept somewhere, no longer works."""
    if user.principal.token_id is not None and login_token(request):
        tenancy.revoke_token(session, token_id=user.principal.token_id)
    response = RedirectResponse("/login", status_code=303)
    delete_cookie(request, response, SESSION_COOKIE, samesite="lax")
    return flash(request, response, "logged_out")


@router.get("/account")
def account(request: Request, user: CurrentWebUser) -> Response:
    return render(request, "account.html", email=user.principal.email, error=None)


PASSWORD_ERRORS = {
    "the current password is not right": "account.error.wrong",
    "the new password must differ from the current one": "account.error.same",
}


@router.post("/account/password")
def change_password(
    request: Request,
    session: DbSession,
    user: CurrentWebUser,
    current_password: Annotated[str, Form(max_length=200)] = "",
    new_password: Annotated[str, Form(max_length=200)] = "",
    repeat_password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Your own password: the current one proves it is you; your other sessions end."""
    error = None
    if new_password != repeat_password:
        error = "account.error.mismatch"
    else:
        try:
            data = PasswordChange(current_password=current_password, new_password=new_password)
        except ValidationError:
            error = "account.error.short" if current_password else "account.error.wrong"
        else:
            try:
                tenancy.change_own_password(
                    session,
                    tenant_id=user.principal.tenant_id,
                    user_id=user.principal.user_id,
                    current_password=data.current_password,
                    new_password=data.new_password,
                    keep_token_id=user.principal.token_id,
                )
            except WrongPassword as exc:
                error = PASSWORD_ERRORS.get(exc.detail, "account.error.wrong")
    if error is not None:
        return render(
            request, "account.html", status_code=422, email=user.principal.email, error=error
        )
    return flash(request, RedirectResponse("/account", status_code=303), "password_changed")
