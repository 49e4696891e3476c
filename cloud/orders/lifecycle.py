"""The order state machine: the only place that knows which status changes are legal.

    created -> planned -> executed -> ready_for_invoicing -> invoiced
    cancelled from created or planned

Also legal: ``created -> executed`` (walk-in weighings and driver-made orders are never
planned), ``planned -> created`` (taken off a route, back to the order bin),
``ready_for_invoicing -> executed`` (approval withdrawn before invoicing) and
``invoiced -> ready_for_invoicing`` (a credit note reopens the order).
"""

from __future__ import annotations

from enum import StrEnum

from cloud.errors import Conflict


class OrderStatus(StrEnum):
    CREATED = "created"
    PLANNED = "planned"
    EXECUTED = "executed"
    READY_FOR_INVOICING = "ready_for_invoicing"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.CREATED: frozenset({S.PLANNED, S.EXECUTED, S.CANCELLED}),
    S.PLANNED: frozenset({S.CREATED, S.EXECUTED, S.CANCELLED}),
    S.EXECUTED: frozenset({S.READY_FOR_INVOICING}),
    S.READY_FOR_INVOICING: frozenset({S.EXECUTED, S.INVOICED}),
    S.INVOICED: frozenset({S.READY_FOR_INVOICING}),
    S.CANCELLED: frozenset(),
}


class InvalidTransition(Conflict):
    def __init__(self, current: OrderStatus | str, target: OrderStatus | str) -> None:
        super().__init__(f"an order cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: OrderStatus | str, target: OrderStatus | str) -> bool:
    return OrderStatus(target) in TRANSITIONS[OrderStatus(current)]


def assert_transition(current: OrderStatus | str, target: OrderStatus | str) -> None:
    if not can_transition(current, target):
        raise InvalidTransition(current, target)
