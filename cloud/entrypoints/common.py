"""What the ``oms`` sub-commands share: the database of the settings, one transaction per
command, domain errors as one line on stderr with exit code 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from cloud.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session


@contextmanager
def settings_engine() -> Iterator[Engine]:
    """An engine on the configured database, disposed when the block ends."""
    from cloud.db import make_engine

    engine = make_engine(get_settings().sqlalchemy_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def cli_session(*, error_name: bool = True) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on an error. A domain
    error becomes ``error: <Name>: <detail>`` (``error: <detail>`` without ``error_name``)
    on stderr and exit code 1."""
    from cloud.db import make_sessionmaker, transaction
    from cloud.errors import AppError

    with settings_engine() as engine:
        try:
            with transaction(make_sessionmaker(engine)) as session:
                yield session
        except AppError as exc:
            name = f"{type(exc).__name__}: " if error_name else ""
            typer.echo(f"error: {name}{exc.detail}", err=True)
            raise typer.Exit(1) from None
