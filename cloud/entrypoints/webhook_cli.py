"""``oms webhook``: the webshop's signing secret (mounted by the platform's CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from cloud.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="The webshop webhook and its signing secret")


@app.callback()
def main() -> None:
    """The webshop webhook and its signing secret."""


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


@app.command("secret")
def secret(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    rotate: Annotated[
        bool, typer.Option("--rotate", help="a new secret; the old one works 24 more hours")
    ] = False,
) -> None:
    """Print the tenant's signing secret (whsec_...) on the last line, making one if there
    is none. Configure it in the webshop; it signs every delivery."""
    from cloud.db import utcnow
    from cloud.intake import service
    from cloud.tenancy.service import get_tenant_by_slug

    with _session() as s:
        tenant_id = get_tenant_by_slug(s, slug=tenant).id
        if rotate:
            value = service.rotate_secret(s, tenant_id=tenant_id, now=utcnow())
            note = "new secret; the previous one keeps verifying for 24 hours"
        else:
            value = service.ensure_secret(s, tenant_id=tenant_id)
            note = "current secret"
    typer.echo(f"webhook URL path: /api/v1/intake/webshop/{tenant}")
    typer.echo(note)
    typer.echo(value)
