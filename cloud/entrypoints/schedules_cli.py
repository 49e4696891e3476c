"""``oms schedules``: make the orders recurring schedules owe (run daily, e.g. by a timer)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from cloud.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Recurring schedules")


@app.callback()
def main() -> None:
    """Recurring schedules."""


@contextmanager
def _session() -> Iterator[Session]:
    """One transaction; domain errors become a one-line message and exit code 1."""
    from cloud.db import make_engine, make_sessionmaker, transaction
    from cloud.errors import AppError

    engine = make_engine(get_settings().sqlalchemy_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    except AppError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@app.command("run")
def run(
    tenant: Annotated[str | None, typer.Option(help="only this tenant (slug)")] = None,
    today: Annotated[
        str | None, typer.Option(help="run as of this day, YYYY-MM-DD (default: today)")
    ] = None,
) -> None:
    """Make the orders every active schedule owes from today to its days ahead; prints how
    many were made. Safe to run again: nothing is made twice."""
    from cloud.db import utcnow
    from cloud.schedules import service
    from cloud.tenancy.service import get_tenant_by_slug

    day = _day(today)
    with _session() as s:
        tenant_id = None if tenant is None else get_tenant_by_slug(s, slug=tenant).id
        if day is None:
            made = service.run_for_today(s, tenant_id=tenant_id, now=utcnow())
        else:
            made = service.run_schedules(s, tenant_id=tenant_id, today=day)
    typer.echo(f"orders made: {made}")
