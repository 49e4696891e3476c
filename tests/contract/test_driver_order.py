"""The driver-made order (stream ``order``): its bounds, what it refuses, and that it carries
no weights."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

import protocols
from protocols import schema

pytestmark = pytest.mark.unit
EXAMPLE = schema.EXAMPLES_DIR / "order-driver.json"
TOPIC = "oms/v1/truck-12/up/order"


def order_bytes(**over: Any) -> bytes:
    data = json.loads(EXAMPLE.read_text())
    for key, value in over.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data).encode()


def test_the_example_travels_on_the_order_stream_through_the_outbox() -> None:
    _, msg = protocols.decode_up(TOPIC, EXAMPLE.read_bytes())
    assert isinstance(msg, protocols.OrderRequest)
    assert msg.client_order_id == uuid.UUID("5e8f2a1c-7b3d-4e6f-9a0b-c1d2e3f4a5b6")
    assert protocols.decode(protocols.encode(msg)) == msg
    assert protocols.up_topic("truck-12", protocols.UpStream.ORDER) == TOPIC
    assert "order" in protocols.OUTBOX_TYPES
    with pytest.raises(protocols.TopicMismatch, match="sent on stream"):
        protocols.decode_up("oms/v1/truck-12/up/pod", EXAMPLE.read_bytes())
    with pytest.raises(protocols.TopicError):
        protocols.parse_topic("oms/v1/truck-12/down/order")  # up only


def test_a_customer_number_or_a_name_is_enough() -> None:
    by_name = protocols.decode_up(TOPIC, order_bytes(customer_number=None))[1]
    assert by_name.customer_name == "Bouwbedrijf De Vries"  # type: ignore[attr-defined]
    by_number = protocols.decode_up(TOPIC, order_bytes(customer_name=None))[1]
    assert by_number.customer_number == "1001"  # type: ignore[attr-defined]
    with pytest.raises(protocols.SchemaMismatch, match="customer number or a name"):
        protocols.decode_up(TOPIC, order_bytes(customer_number=None, customer_name=None))
    with pytest.raises(protocols.SchemaMismatch, match="customer_name"):
        protocols.decode_up(TOPIC, order_bytes(customer_number=None, customer_name="   "))


@pytest.mark.parametrize(
    "over",
    [
        {"order_type": "walk_in"},  # only a weighing makes one
        {"order_type": "anything"},
        {"client_order_id": "not-a-uuid"},
        {"client_order_id": None},
        {"customer_number": "1" * 21},
        {"customer_name": "x" * 201},
        {"address": "x" * 301},
        {"postal_code": "x" * 11},
        {"material": "x" * 65},
        {"container_type": "x" * 61},
        {"container_number": "x" * 65},
        {"reference": "x" * 65},
        {"notes": "x" * 1001},
        {"requested_date": "28-11-2026"},
        {"occurred_at": "2026-11-27T11:05:12"},  # naive
    ],
    ids=lambda o: next(iter(o)),
)
def test_bounds_and_types_are_enforced(over: dict[str, Any]) -> None:
    with pytest.raises(protocols.SchemaMismatch):
        protocols.decode_up(TOPIC, order_bytes(**over))


def test_a_driver_made_order_carries_no_weights() -> None:
    """A driver-made order asks for work; weights come from a scale later. Nothing in the
    message could hold one, and one sent anyway is ignored, never stored."""
    props = schema.message_schemas()["order"]["properties"]
    assert not [p for p in props if "weight" in p or p in ("gross", "tare", "net", "quantity")]
    msg = protocols.decode_up(TOPIC, order_bytes(gross="18240", weight_kg="5"))[1]
    assert "gross" not in msg.model_dump() and "weight_kg" not in msg.model_dump()


def test_unknown_fields_are_ignored_like_every_v1_message() -> None:
    """Additive changes within v1: a newer truck's extra field does not get its order refused
    by an older cloud."""
    msg = protocols.decode_up(TOPIC, order_bytes(added_in_v1_1="x"))[1]
    assert msg.type == "order"
