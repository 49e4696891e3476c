"""Orders the driver makes on the truck's page ("Nieuwe order"): a customer at the roadside
asks for a container, an extra collection is agreed on the spot.

The form becomes an ``OrderRequest`` committed to the durable outbox, like every other fact
from the truck: it survives a restart and leaves when the truck is online, and only the cloud's
receipt removes it. The page makes a ``client_order_id`` when the form opens and sends it with
every attempt, so a form sent twice (a tap on a slow network, a retry after a timeout) is
stored once: the second attempt answers as the first did. The same id is the order's
idempotency key in the cloud.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import structlog
from pydantic import ValidationError

from edge_agent.clock import Clock
from edge_agent.outbox import Outbox
from protocols import DRIVER_ORDER_TYPES, OrderRequest

log = structlog.get_logger("edge_agent.driver_orders")

SCHEMA = """
CREATE TABLE IF NOT EXISTS driver_orders (
    client_order_id TEXT PRIMARY KEY,
    message_id      TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    summary         TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
"""
FIELDS: Final = (
    "order_type",
    "customer_number",
    "customer_name",
    "address",
    "postal_code",
    "material",
    "container_type",
    "container_number",
    "requested_date",
    "reference",
    "notes",
)
SHOWN = 20
"""How many of the truck's own orders the page lists."""


class OrderFormError(ValueError):
    """The driver's form cannot become an order; the message says what to fix."""


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


class DriverOrders:
    def __init__(self, *, outbox: Outbox, device_id: str, clock: Clock) -> None:
        self.outbox = outbox
        self.device_id = device_id
        self.clock = clock
        with outbox.transaction() as db:
            db.execute(SCHEMA)

    def submit(self, form: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the form and commit its ``OrderRequest`` to the outbox (once per
        ``client_order_id``). Returns what the page shows; ``OrderFormError`` if it is wrong."""
        unknown = sorted(set(form) - {*FIELDS, "client_order_id"})
        if unknown:
            raise OrderFormError(f"unknown field(s): {', '.join(unknown)}")
        values: dict[str, str] = {}
        for name in FIELDS:
            value = form.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise OrderFormError(f"{name}: expected text")
            if value.strip():
                values[name] = value
        if values.get("order_type") not in DRIVER_ORDER_TYPES:
            raise OrderFormError(f"order_type: one of {', '.join(DRIVER_ORDER_TYPES)}")
        client_order_id = self._client_order_id(form.get("client_order_id"))
        now = self.clock.now()
        try:
            # Checked before the outbox is touched, so a bad form takes no ``seq``.
            probe = OrderRequest(
                message_id=uuid.uuid4(),
                device_id=self.device_id,
                seq=0,
                occurred_at=now,
                client_order_id=client_order_id,
                **values,  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            raise OrderFormError(_describe(exc)) from None
        if probe.requested_date and probe.requested_date < (now - timedelta(days=1)).date():
            raise OrderFormError("requested_date: lies in the past")
        summary = {
            "order_type": probe.order_type,
            "customer": probe.customer_number or probe.customer_name,
            "address": " ".join(x for x in (probe.address, probe.postal_code) if x) or None,
            "requested_date": probe.requested_date.isoformat() if probe.requested_date else None,
        }
        with self.outbox.transaction() as db:
            row = db.execute(
                "SELECT message_id, summary, created_at FROM driver_orders "
                "WHERE client_order_id = ?",
                (str(client_order_id),),
            ).fetchone()
            if row is not None:
                return {
                    "client_order_id": str(client_order_id),
                    "message_id": row[0],
                    "created_at": row[2],
                    "repeated": True,
                    **json.loads(row[1]),
                }
            msg = self.outbox.append(
                lambda seq, mid: probe.model_copy(update={"message_id": mid, "seq": seq}), db
            )
            db.execute(
                "INSERT INTO driver_orders (client_order_id, message_id, seq, summary, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    str(client_order_id),
                    str(msg.message_id),
                    msg.seq,
                    json.dumps(summary),
                    now.isoformat(),
                ),
            )
        log.info(
            "edge_agent.driver_order",
            client_order_id=str(client_order_id),
            message_id=str(msg.message_id),
            order_type=probe.order_type,
        )
        return {
            "client_order_id": str(client_order_id),
            "message_id": str(msg.message_id),
            "created_at": now.isoformat(),
            "repeated": False,
            **summary,
        }

    def recent(self, limit: int = SHOWN) -> list[dict[str, Any]]:
        """The truck's latest orders, newest first, each with where its message is:
        ``queued`` (in the outbox), ``sent`` (the cloud committed it) or ``rejected``."""
        with self.outbox.transaction() as db:
            rows = db.execute(
                "SELECT d.client_order_id, d.message_id, d.summary, d.created_at, "
                "o.seq IS NOT NULL, r.reason FROM driver_orders d "
                "LEFT JOIN outbox o ON o.message_id = d.message_id "
                "LEFT JOIN rejected r ON r.message_id = d.message_id "
                "ORDER BY d.seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {
                "client_order_id": r[0],
                "message_id": r[1],
                "created_at": r[3],
                "status": "queued" if r[4] else ("rejected" if r[5] is not None else "sent"),
                "reason": r[5],
                **json.loads(r[2]),
            }
            for r in rows
        ]

    @staticmethod
    def _client_order_id(value: object) -> uuid.UUID:
        if value is None or value == "":
            return uuid.uuid4()
        if not isinstance(value, str):
            raise OrderFormError("client_order_id: expected a UUID")
        try:
            return uuid.UUID(value)
        except ValueError:
            raise OrderFormError("client_order_id: expected a UUID") from None
