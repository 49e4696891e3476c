"""Ingest hardening (issue 8): job assignments, bounded and rate-limited dead letters

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("dispatched_at", cloud.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", cloud.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_job_assignments_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_job_assignments_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_job_assignments_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_assignments")),
        sa.UniqueConstraint(
            "order_id", "device_id", name=op.f("uq_job_assignments_order_id_device_id")
        ),
    )
    with op.batch_alter_table("job_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_job_assignments_device_id"), ["device_id"], unique=False
        )

    op.create_table(
        "dead_letter_counters",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("window_start", cloud.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_kept", sa.Integer(), nullable=False),
        sa.Column("window_suppressed", sa.Integer(), nullable=False),
        sa.Column("kept", sa.BigInteger(), nullable=False),
        sa.Column("suppressed", sa.BigInteger(), nullable=False),
        sa.Column("last_kept_at", cloud.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_suppressed_at", cloud.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_dead_letter_counters")),
    )

    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_column("payload_sha256")

    op.drop_table("dead_letter_counters")
    with op.batch_alter_table("job_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_assignments_device_id"))

    op.drop_table("job_assignments")
