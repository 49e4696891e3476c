"""TimescaleDB: measurements and positions become hypertables

On PostgreSQL with the timescaledb extension available, create the extension and turn the two
time-series tables into hypertables (1-day chunks), with an index for per-device range
queries. On SQLite, or PostgreSQL without the extension, this only adds the same index to the
plain tables: the code does not depend on hypertables, only the speed does.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("measurements", "positions")


def _timescale_available(bind: sa.Connection) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    return bool(
        bind.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        ).scalar()
    )


def upgrade() -> None:
    bind = op.get_bind()
    if _timescale_available(bind):
        op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        for table in TABLES:
            op.execute(
                f"SELECT create_hypertable('{table}', by_range('time', INTERVAL '1 day'),"
                " migrate_data => true)"
            )
    for table in TABLES:
        op.create_index(f"ix_{table}_device_time", table, ["device_id", sa.text("time DESC")])


def downgrade() -> None:
    # A hypertable cannot be turned back into a plain table in place; dropping the index is
    # all this step undoes. Downgrade further (0001) to drop the tables themselves.
    for table in TABLES:
        op.drop_index(f"ix_{table}_device_time", table_name=table)
