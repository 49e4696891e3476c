from __future__ import annotations

import itertools

import pytest

from cloud.orders.lifecycle import TRANSITIONS, InvalidTransition, OrderStatus, assert_transition

pytestmark = pytest.mark.unit

LEGAL = {
    ("created", "planned"),
    ("created", "executed"),
    ("created", "cancelled"),
    ("planned", "created"),
    ("planned", "executed"),
    ("planned", "cancelled"),
    ("executed", "ready_for_invoicing"),
    ("ready_for_invoicing", "executed"),
    ("ready_for_invoicing", "invoiced"),
    ("invoiced", "ready_for_invoicing"),
}


@pytest.mark.parametrize("current,target", list(itertools.product(OrderStatus, OrderStatus)))
def test_every_pair(current: OrderStatus, target: OrderStatus) -> None:
    if (current.value, target.value) in LEGAL:
        assert_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as exc:
            assert_transition(current, target)
        assert exc.value.status_code == 409


def test_table_is_what_the_test_says() -> None:
    table = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL


def test_cancelled_is_final_and_invoiced_only_reopens_by_credit_note() -> None:
    assert TRANSITIONS[OrderStatus.CANCELLED] == frozenset()
    assert TRANSITIONS[OrderStatus.INVOICED] == {OrderStatus.READY_FOR_INVOICING}
