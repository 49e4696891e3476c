"""``oms tenant`` and ``oms user``: set a company up from an empty database, without Python.

Options are validated with the same schemas as the API (``cloud.tenancy.schemas``); the rules
are the services' (``cloud.tenancy.service``). Each command is one transaction, committed
here. A new or reset password is printed once, alone on the last line, so a script can take
it with ``tail -n 1``. Errors go to stderr as one line, with exit code 1."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, TypeVar

import structlog
import typer
from pydantic import BaseModel, ValidationError

from cloud.entrypoints.common import cli_session
from cloud.tenancy import service
from cloud.tenancy.schemas import TenantCreate, UserCreate, UserUpdate

tenant_app = typer.Typer(no_args_is_help=True, help="Tenants: the companies on this system")
user_app = typer.Typer(no_args_is_help=True, help="Users of a tenant, their roles and passwords")


class _Stderr:
    """Whatever ``sys.stderr`` is at the time of writing (it is replaced under test)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@tenant_app.callback()
@user_app.callback()
def _logs_to_stderr() -> None:
    """stdout carries the result (and the password, on its last line); logs go to stderr."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(_Stderr()))  # type: ignore[arg-type]


M = TypeVar("M", bound=BaseModel)
_OPTION = {"roles": "--role", "customer_id": "--customer"}


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _validated(build: Callable[[], M]) -> M:
    try:
        return build()
    except ValidationError as exc:
        raise _fail("; ".join(_problem(e["loc"], e["msg"]) for e in exc.errors())) from None


def _problem(loc: tuple[int | str, ...], msg: str) -> str:
    """``--role: Input should be 'owner', ...``: the option the value came from."""
    if not loc:
        return msg
    field = str(loc[0])
    return f"{_OPTION.get(field, '--' + field.replace('_', '-'))}: {msg}"


Tenant = Annotated[str, typer.Option(help="the tenant's slug")]
Email = Annotated[str, typer.Option(help="the user's e-mail address (the login)")]


@tenant_app.command("create")
def tenant_create(
    slug: Annotated[str, typer.Option(help="short name: a-z, 0-9 and inner '-' (in URLs)")],
    name: Annotated[str, typer.Option(help="the company's name")],
) -> None:
    """Create a tenant (a company). Add its first owner with `oms user add --role owner`."""
    data = _validated(lambda: TenantCreate(slug=slug, name=name))
    with cli_session() as s:
        tenant = service.create_tenant(s, slug=data.slug, name=data.name)
        tenant_id = tenant.id
    typer.echo(f"tenant {data.slug} created (id {tenant_id}): {data.name}")


@tenant_app.command("list")
def tenant_list() -> None:
    """The tenants on this system."""
    with cli_session() as s:
        rows = [(t.id, t.slug, t.name) for t in service.list_tenants(s)]
    for id_, slug, name in rows:
        typer.echo(f"{id_}\t{slug}\t{name}")


@user_app.command("add")
def user_add(
    tenant: Tenant,
    email: Email,
    role: Annotated[
        list[str],
        typer.Option(help="owner, planner, administrator, driver or customer (repeatable)"),
    ],
    customer: Annotated[
        str | None, typer.Option(help="customer number: required with --role customer")
    ] = None,
    name: Annotated[str | None, typer.Option(help="the name shown (default: the e-mail)")] = None,
    locale: Annotated[str, typer.Option(help="language of the web pages: nl or en")] = "nl",
) -> None:
    """Add a user with a generated password, printed once on the last line."""
    with cli_session() as s:
        tenant_row = service.get_tenant_by_slug(s, slug=tenant)
        customer_id = (
            service.customer_id_for_number(s, tenant_id=tenant_row.id, number=customer)
            if customer is not None
            else None
        )
        data = _validated(
            lambda: UserCreate.model_validate(
                {
                    "email": email,
                    "name": name,
                    "roles": role,
                    "customer_id": customer_id,
                    "locale": locale,
                }
            )
        )
        new = service.add_user(
            s,
            tenant_id=tenant_row.id,
            email=data.email,
            name=data.name,
            roles=[r.value for r in data.roles],
            customer_id=data.customer_id,
            locale=data.locale,
        )
        summary = _describe(new.user.email, sorted(new.user.role_names), tenant, customer)
    assert new.password is not None
    typer.echo(f"user added: {summary}")
    typer.echo("password (shown once: hand it over safely; the user can change it under /account):")
    typer.echo(new.password)


@user_app.command("disable")
def user_disable(tenant: Tenant, email: Email) -> None:
    """Disable a user: no more logins, and its tokens stop working at once."""
    with cli_session() as s:
        tenant_row = service.get_tenant_by_slug(s, slug=tenant)
        user = service.get_user_by_email(s, tenant_id=tenant_row.id, email=email)
        service.disable_user(s, tenant_id=tenant_row.id, user_id=user.id)
        address = user.email
    typer.echo(f"user disabled: {address} in tenant {tenant}")


@user_app.command("enable")
def user_enable(tenant: Tenant, email: Email) -> None:
    """Let a disabled user log in again (with its password as it was)."""
    with cli_session() as s:
        tenant_row = service.get_tenant_by_slug(s, slug=tenant)
        user = service.get_user_by_email(s, tenant_id=tenant_row.id, email=email)
        service.update_user(
            s, tenant_id=tenant_row.id, user_id=user.id, changes=UserUpdate(is_active=True)
        )
        address = user.email
    typer.echo(f"user enabled: {address} in tenant {tenant}")


@user_app.command("reset-password")
def user_reset_password(tenant: Tenant, email: Email) -> None:
    """Give a user a new generated password, printed once on the last line. Every login the
    user had ends."""
    with cli_session() as s:
        tenant_row = service.get_tenant_by_slug(s, slug=tenant)
        user = service.get_user_by_email(s, tenant_id=tenant_row.id, email=email)
        password = service.reset_password(s, tenant_id=tenant_row.id, user_id=user.id)
        address = user.email
    typer.echo(f"password reset: {address} in tenant {tenant}; its logins have ended")
    typer.echo("password (shown once: hand it over safely; the user can change it under /account):")
    typer.echo(password)


@user_app.command("list")
def user_list(tenant: Tenant) -> None:
    """The tenant's users: e-mail, name, roles, active or disabled, customer number."""
    with cli_session() as s:
        tenant_row = service.get_tenant_by_slug(s, slug=tenant)
        users = service.list_users(s, tenant_id=tenant_row.id)
        numbers = service.customer_numbers(
            s, tenant_id=tenant_row.id, ids={u.customer_id for u in users if u.customer_id}
        )
        rows = [
            (
                u.email,
                u.name,
                ",".join(sorted(u.role_names)),
                "active" if u.is_active else "disabled",
                numbers.get(u.customer_id, "") if u.customer_id else "",
                u.locale,
            )
            for u in users
        ]
    header = ("email", "name", "roles", "state", "customer", "locale")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _describe(email: str, roles: list[str], tenant: str, customer: str | None) -> str:
    who = f"{email} in tenant {tenant}, roles {','.join(roles)}"
    return f"{who}, customer {customer}" if customer else who
