"""``oms webhook``: the webshop's signing secret (mounted by the platform's CLI)."""

from __future__ import annotations

from typing import Annotated

import typer

from cloud.entrypoints.common import cli_session

app = typer.Typer(no_args_is_help=True, help="The webshop webhook and its signing secret")


@app.callback()
def main() -> None:
    """The webshop webhook and its signing secret."""


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

    with cli_session() as s:
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
