from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from cloud.db import Base
from cloud.migrations import downgrade, upgrade

pytestmark = pytest.mark.integration


def test_migrations_build_every_table(db_url: str, engine) -> None:  # type: ignore[no-untyped-def]
    import cloud.models  # noqa: F401

    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            hyper = {
                r[0]
                for r in c.execute(
                    text("SELECT hypertable_name FROM timescaledb_information.hypertables")
                )
            }
        assert hyper == {"measurements", "positions"}


def test_models_and_migrations_agree(db_url: str, engine) -> None:  # type: ignore[no-untyped-def]
    """Autogenerate finds nothing to do: the migrations are the whole schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import cloud.models  # noqa: F401

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        # Indexes made outside the models: ours in 0002, TimescaleDB's own on hypertables.
        diff = [
            d
            for d in compare_metadata(ctx, Base.metadata)
            if not (
                isinstance(d, tuple)
                and d[0] == "remove_index"
                and (d[1].name.endswith("_device_time") or d[1].name.endswith("_time_idx"))
            )
        ]
    assert diff == []


def test_downgrade_to_nothing_and_up_again(db_url: str, engine) -> None:  # type: ignore[no-untyped-def]
    downgrade(db_url, "base")
    assert "orders" not in inspect(engine).get_table_names()
    upgrade(db_url)
    assert "orders" in inspect(engine).get_table_names()
