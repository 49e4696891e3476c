"""Claiming message ids (deduplication) in bulk, per dialect. PostgreSQL: one ``INSERT ...
SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING`` on the session's own connection and
transaction, so concurrent workers never both win an id. SQLite, the embedded default, has one
writer at a time (``BEGIN IMMEDIATE``), so a lookup then ``executemany`` is race-free there."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cloud.ingest.models import IngestReceipt

RECEIPT_COLUMNS = (
    "message_id",
    "device_id",
    "tenant_id",
    "seq",
    "type",
    "occurred_at",
    "received_at",
)


def _driver_connection(session: Session) -> Any:
    return session.connection().connection.driver_connection


def claim(session: Session, rows: Sequence[tuple[Any, ...]]) -> set[str]:
    """Insert receipt rows (tuples in ``RECEIPT_COLUMNS`` order); return the ids that were new."""
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        # One JSON document for the whole batch: serialised in C, unpacked by the server. In id
        # order, so two workers that both hold redelivered copies of the same messages wait for
        # each other's unique-index entries in the same order instead of deadlocking.
        doc = json.dumps(
            [
                [m, d, t, q, ty, o.timestamp(), r.timestamp()]
                for m, d, t, q, ty, o, r in sorted(rows, key=lambda row: row[0])
            ]
        )
        cur = _driver_connection(session).execute(
            "INSERT INTO ingest_receipts (message_id, device_id, tenant_id, seq, type, occurred_at,"
            " received_at) SELECT r->>0, r->>1, (r->>2)::int, (r->>3)::bigint, r->>4,"
            " to_timestamp((r->>5)::float8), to_timestamp((r->>6)::float8)"
            " FROM jsonb_array_elements(%s::jsonb) AS r"
            " ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            [doc],
        )
        return {r[0] for r in cur.fetchall()}
    ids = [r[0] for r in rows]
    seen: set[str] = set()
    for i in range(0, len(ids), 500):
        seen |= set(
            session.scalars(
                select(IngestReceipt.message_id).where(
                    IngestReceipt.message_id.in_(ids[i : i + 500])
                )
            )
        )
    new = [dict(zip(RECEIPT_COLUMNS, r, strict=True)) for r in rows if r[0] not in seen]
    if new:
        session.execute(insert(IngestReceipt), new)
    return {r["message_id"] for r in new}
