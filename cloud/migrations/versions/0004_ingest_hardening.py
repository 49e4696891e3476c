"""Ingest hardening (issue 8): job assignments, bounded and rate-limited dead letters

Job assignments are backfilled: since this revision a truck may report only on orders with an
assignment, so every order already dispatched (status ``planned`` with a vehicle) gets one for
the vehicle's truck device, the device ``dispatch_order`` sent it to, or the completion of
jobs on the road at upgrade time would be refused.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

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

    _backfill_job_assignments()

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


_orders = sa.table(
    "orders",
    sa.column("id", sa.Integer()),
    sa.column("tenant_id", sa.Integer()),
    sa.column("number", sa.String()),
    sa.column("status", sa.String()),
    sa.column("vehicle_id", sa.Integer()),
)
_devices = sa.table(
    "devices",
    sa.column("id", sa.String()),
    sa.column("tenant_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("vehicle_id", sa.Integer()),
    sa.column("down_seq", sa.BigInteger()),
    sa.column("revoked_at", cloud.db.UTCDateTime()),
)
_outbox = sa.table(
    "outbox_jobs",
    sa.column("id", sa.Integer()),
    sa.column("tenant_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("target", sa.String()),
    sa.column("payload", sa.LargeBinary()),
    sa.column("created_at", cloud.db.UTCDateTime()),
)
_assignments = sa.table(
    "job_assignments",
    sa.column("tenant_id", sa.Integer()),
    sa.column("order_id", sa.Integer()),
    sa.column("device_id", sa.String()),
    sa.column("revision", sa.BigInteger()),
    sa.column("dispatched_at", cloud.db.UTCDateTime()),
)


def _sent_jobs(bind: sa.Connection) -> dict[tuple[str, str], tuple[int, datetime]]:
    """(device, job id) -> (revision, when queued) of the latest job message in the outbox.
    The outbox keeps what was sent (``done_at`` marks it, nothing deletes it); a payload that
    does not read as a job is skipped."""
    sent: dict[tuple[str, str], tuple[int, datetime]] = {}
    rows = bind.execute(
        sa.select(_outbox.c.target, _outbox.c.payload, _outbox.c.created_at)
        .where(_outbox.c.kind == "mqtt_publish", _outbox.c.target.like("oms/v1/%/down/job"))
        .order_by(_outbox.c.id)
    )
    for target, payload, created_at in rows:
        try:
            msg = json.loads(bytes(payload))
            job = msg["job"] if msg.get("action") == "upsert" else None
            revision = int(job["revision"]) if job else None
            job_id = str(msg["job_id"])
        except (ValueError, TypeError, KeyError):
            continue
        if revision is not None:
            sent[(target.split("/")[2], job_id)] = (revision, created_at)
    return sent


def _backfill_job_assignments() -> None:
    """One assignment per planned order with a vehicle, for the vehicle's (non-revoked) truck
    device: the device ``dispatch_order`` chose. Its revision is the one of the job sent to that
    device (outbox); without one, the device's ``down_seq``, the newest revision it was sent.
    With several trucks on one vehicle, the lowest device id (the old code took any one)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            _orders.c.id,
            _orders.c.tenant_id,
            _orders.c.number,
            _devices.c.id,
            _devices.c.down_seq,
        )
        .join(
            _devices,
            sa.and_(
                _devices.c.tenant_id == _orders.c.tenant_id,
                _devices.c.vehicle_id == _orders.c.vehicle_id,
                _devices.c.kind == "truck",
                _devices.c.revoked_at.is_(None),
            ),
        )
        .where(_orders.c.status == "planned", _orders.c.vehicle_id.is_not(None))
        .order_by(_orders.c.id, _devices.c.id)
    ).all()
    if not rows:
        return
    sent = _sent_jobs(bind)
    now = datetime.now(UTC)
    values: dict[int, dict[str, object]] = {}
    for order_id, tenant_id, number, device_id, down_seq in rows:
        if order_id in values:
            continue
        revision, at = sent.get((device_id, number), (max(int(down_seq or 0), 1), now))
        values[order_id] = {
            "tenant_id": tenant_id,
            "order_id": order_id,
            "device_id": device_id,
            "revision": revision,
            "dispatched_at": at or now,
        }
    bind.execute(sa.insert(_assignments), list(values.values()))


def downgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_column("payload_sha256")

    op.drop_table("dead_letter_counters")
    with op.batch_alter_table("job_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_assignments_device_id"))

    op.drop_table("job_assignments")
