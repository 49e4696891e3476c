"""API scoping: the user who drives a vehicle (drivers see that vehicle's jobs)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("driver_user_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_vehicles_driver_user_id"), ["driver_user_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_vehicles_driver_user_id_users"),
            "users",
            ["driver_user_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_vehicles_driver_user_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_vehicles_driver_user_id"))
        batch_op.drop_column("driver_user_id")
