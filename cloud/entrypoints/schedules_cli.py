"""``oms schedules``: make the orders recurring schedules owe (run daily, e.g. by a timer)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cloud.entrypoints.common import cli_session

app = typer.Typer(no_args_is_help=True, help="Recurring schedules")


@app.callback()
def main() -> None:
    """Recurring schedules."""


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
    with cli_session() as s:
        tenant_id = None if tenant is None else get_tenant_by_slug(s, slug=tenant).id
        if day is None:
            made = service.run_for_today(s, tenant_id=tenant_id, now=utcnow())
        else:
            made = service.run_schedules(s, tenant_id=tenant_id, today=day)
    typer.echo(f"orders made: {made}")
