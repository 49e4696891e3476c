"""Things that happen to orders, and who reacts. Other domains subscribe a handler (the
handler runs in the same transaction as the change); orders never import them, so they may
depend on orders without a loop.

``OrderCancelled``: ``cloud.jobs`` withdraws a job that was dispatched to a truck.
``OrderChanged``: ``cloud.jobs`` sends the changed job to the truck again (a new revision), or
withdraws it when the order moved to another vehicle (and sends it to that one's truck)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from cloud.orders.models import Order


@dataclass(frozen=True)
class OrderCancelled:
    order: Order
    reason: str
    by_user_id: int | None


@dataclass(frozen=True)
class OrderChanged:
    """An open order (created, planned) whose ``fields`` (names of ``ORDER_FIELDS``, and
    ``lines``) really changed; published by ``update_order`` after the change is applied."""

    order: Order
    fields: frozenset[str]
    by_user_id: int | None = None


E = TypeVar("E")
Handler = Callable[[Session, Any], None]
_handlers: dict[type, list[Handler]] = {}


def subscribe(event_type: type[E], handler: Callable[[Session, E], None]) -> None:
    """Register ``handler`` for ``event_type`` (once: registering it again changes nothing)."""
    handlers = _handlers.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(event_type: type[E], handler: Callable[[Session, E], None]) -> None:
    handlers = _handlers.get(event_type, [])
    if handler in handlers:
        handlers.remove(handler)


def publish(session: Session, event: object) -> None:
    """Run every handler of the event's type, in the order they subscribed."""
    for handler in list(_handlers.get(type(event), ())):
        handler(session, event)
