"""The users of the tenant, for the owner: list, add (the generated password is shown once,
on the answer to the form, and never stored in a readable form), disable, reset a password."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from cloud.customers import service as customers
from cloud.errors import AppError
from cloud.http.deps import DbSession
from cloud.permissions import ROLES, Action
from cloud.tenancy import service as tenancy
from cloud.tenancy.schemas import UserCreate
from cloud.web.forms import FormData, FormErrors, clean, service_error, validate
from cloud.web.params import IdPath
from cloud.web.routing import make_router
from cloud.web.session import WebUser, allowed
from cloud.web.templating import flash, render

router = make_router(prefix="/users")
Owner = Annotated[WebUser, Depends(allowed(Action.USER_MANAGE))]
CUSTOMER_CHOICES = 500
"""Customers offered for a customer user; more than that needs the search of master data."""


def _page(
    request: Request,
    session: Session,
    user: WebUser,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    issued: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    tenant_id = user.principal.tenant_id
    users = tenancy.list_users(session, tenant_id=tenant_id)
    numbers = tenancy.customer_numbers(
        session, tenant_id=tenant_id, ids={u.customer_id for u in users if u.customer_id}
    )
    choices, _ = customers.list_customers(
        session, tenant_id=tenant_id, active=True, sort="name", limit=CUSTOMER_CHOICES
    )
    return render(
        request,
        "users/list.html",
        status_code=status_code,
        users=users,
        customer_numbers=numbers,
        customers=[(c.id, f"{c.number} · {c.name}") for c in choices],
        roles=ROLES,
        form=form or {"roles": [], "locale": "nl"},
        errors=errors or {},
        issued=issued,
    )


@router.get("")
def list_users(request: Request, session: DbSession, user: Owner) -> Response:
    return _page(request, session, user)


@router.post("/new")
def add_user(request: Request, session: DbSession, user: Owner, form: FormData) -> Response:
    lang = request.state.web.lang
    try:
        data = validate(
            UserCreate, clean(form, ("email", "name", "roles", "customer_id", "locale")), lang
        )
        try:
            with session.begin_nested():
                created = tenancy.add_user(
                    session,
                    tenant_id=user.principal.tenant_id,
                    email=data.email,
                    name=data.name,
                    roles=[r.value for r in data.roles],
                    customer_id=data.customer_id,
                    locale=data.locale,
                    by_user_id=user.principal.user_id,
                )
        except AppError as exc:
            raise FormErrors(service_error(exc, lang)) from None
    except FormErrors as exc:
        return _page(request, session, user, form=form, errors=exc.errors, status_code=422)
    assert created.password is not None  # generated: the form never sets one
    return _page(request, session, user, issued=(created.user.email, created.password))


@router.post("/{user_id}/disable")
def disable_user(request: Request, user_id: IdPath, session: DbSession, user: Owner) -> Response:
    tenancy.disable_user(
        session,
        tenant_id=user.principal.tenant_id,
        user_id=user_id,
        by_user_id=user.principal.user_id,
    )
    return flash(request, RedirectResponse("/users", status_code=303), "user_disabled")


@router.post("/{user_id}/reset-password")
def reset_password(request: Request, user_id: IdPath, session: DbSession, user: Owner) -> Response:
    target = tenancy.get_user(session, tenant_id=user.principal.tenant_id, user_id=user_id)
    password = tenancy.reset_password(
        session,
        tenant_id=user.principal.tenant_id,
        user_id=user_id,
        by_user_id=user.principal.user_id,
    )
    return _page(request, session, user, issued=(target.email, password))
