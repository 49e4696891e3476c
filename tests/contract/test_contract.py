"""The edge <-> cloud contract: golden examples, schema drift, topics, codec errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest

import protocols
from protocols import schema
from protocols.topics import DownStream, UpStream

pytestmark = pytest.mark.unit
EXAMPLES = sorted(schema.EXAMPLES_DIR.glob("*.json"))


def test_every_message_type_has_a_golden_example() -> None:
    types = {json.loads(p.read_text())["type"] for p in EXAMPLES}
    assert types == {m.model_fields["type"].default for m in protocols.messages.ALL_MESSAGES}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_golden_example_validates_and_round_trips(path: Path) -> None:
    raw = path.read_bytes()
    msg = protocols.decode(raw)
    again = protocols.decode(protocols.encode(msg))
    assert again == msg
    # Weights survive as exact decimals, never via float.
    for key, value in json.loads(raw).items():
        if key in ("gross", "tare", "net"):
            assert getattr(msg, key) == Decimal(value)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_golden_example_validates_against_committed_json_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = json.loads(path.read_text())
    sch = json.loads((schema.SCHEMA_DIR / f"{data['type']}.schema.json").read_text())
    jsonschema.validate(data, sch)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_golden_example_on_its_topic(path: Path) -> None:
    msg = protocols.decode(path.read_bytes())
    if msg.type in {s.value for s in UpStream}:
        topic = protocols.up_topic(msg.device_id, msg.type)
        _, again = protocols.decode_up(topic, path.read_bytes())
    else:
        topic = protocols.down_topic(msg.device_id, msg.type)
        _, again = protocols.decode_down(topic, path.read_bytes())
    assert again == msg
    # what an MQTT client may hand over: a bytearray, or text
    for payload in (bytearray(path.read_bytes()), path.read_text(encoding="utf-8")):
        decode = (
            protocols.decode_up
            if msg.type in {s.value for s in UpStream}
            else protocols.decode_down
        )
        assert decode(topic, payload)[1] == msg


def test_every_message_narrows_the_envelope_type_to_its_stream() -> None:
    """``Envelope.type`` is declared on the base (so code handling any envelope may read it);
    each message pins it to one literal, its default, and refuses any other."""
    streams = {s.value for s in UpStream} | {s.value for s in DownStream}
    assert protocols.Envelope.model_fields["type"].is_required()
    for model in protocols.messages.ALL_MESSAGES:
        field = model.model_fields["type"]
        assert get_args(field.annotation) == (field.default,), model
        assert field.default in streams, model
    with pytest.raises(ValueError, match="type"):
        protocols.WeighingTicket.model_validate_json(_ticket_bytes(type="measurement"))


def test_committed_schema_matches_the_models() -> None:
    problems = schema.drift()
    assert not problems, "run `python -m protocols schema` and commit: " + "; ".join(problems)


def test_drift_is_detected(tmp_path: Path) -> None:
    schema.write(tmp_path)
    path = tmp_path / "weighing.schema.json"
    data = json.loads(path.read_text())
    data["properties"].pop("net")
    path.write_text(json.dumps(data))
    (tmp_path / "old.schema.json").write_text("{}")
    problems = schema.drift(tmp_path)
    assert "weighing.schema.json: differs from the models" in problems
    assert "old.schema.json: no such message" in problems


# -- topics --------------------------------------------------------------------------------


def test_topic_builders_and_parser_agree() -> None:
    for stream in UpStream:
        t = protocols.up_topic("wb-1", stream)
        assert t == f"oms/v1/wb-1/up/{stream.value}"
        parsed = protocols.parse_topic(t)
        assert (parsed.device_id, parsed.direction.value, parsed.stream) == ("wb-1", "up", stream)
    for stream in DownStream:
        assert protocols.parse_topic(protocols.down_topic("truck-12", stream)).stream is stream
    assert protocols.ingest_filter() == "oms/v1/+/up/#"
    assert protocols.ingest_filter(shared_group="ingest") == "$share/ingest/oms/v1/+/up/#"
    assert protocols.device_downlink_filter("truck-12") == "oms/v1/truck-12/down/#"


@pytest.mark.parametrize(
    "device_id", ["", "A", "wb+1", "wb#", "wb/1", "-wb", "wb-", "wb_1", "x" * 65, "wb 1", "wé"]
)
def test_bad_device_ids_are_refused(device_id: str) -> None:
    with pytest.raises(protocols.InvalidDeviceId):
        protocols.validate_device_id(device_id)
    with pytest.raises(protocols.InvalidDeviceId):
        protocols.up_topic(device_id, "weighing")


@pytest.mark.parametrize(
    "topic",
    [
        "oms/v1/wb-1/up",
        "oms/v2/wb-1/up/weighing",
        "oms/v1/wb+1/up/weighing",
        "oms/v1/wb-1/sideways/weighing",
        "oms/v1/wb-1/up/receipt",
        "oms/v1/wb-1/down/weighing",
        "oms/v1/wb-1/up/weighing/extra",
    ],
)
def test_bad_topics_are_refused(topic: str) -> None:
    with pytest.raises(protocols.TopicError):
        protocols.parse_topic(topic)


# -- codec errors ------------------------------------------------------------------------------


def _ticket_bytes(**over: object) -> bytes:
    data = json.loads((schema.EXAMPLES_DIR / "weighing-two-pass.json").read_text())
    data.update(over)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "over",
    [
        {"plate": "BX-1\x0023"},
        {"material": "\x00"},
        {"customer_reference": "a\\\x00"},  # an escaped backslash, then NUL
        {"extra_field\x00": "x"},  # keys too, though unknown fields are ignored
    ],
)
def test_nul_characters_are_refused_with_their_own_reason(over: dict[str, str]) -> None:
    with pytest.raises(protocols.NulCharacter) as err:
        protocols.decode_up("oms/v1/wb-zwolle-1/up/weighing", _ticket_bytes(**over))
    assert err.value.reason == "nul_character"


def test_text_that_merely_reads_u0000_is_not_a_nul() -> None:
    # JSON "\\u0000" is a backslash followed by the letters u0000.
    msg = protocols.decode_up(
        "oms/v1/wb-zwolle-1/up/weighing", _ticket_bytes(customer_reference="C:\\u0000")
    )[1]
    assert msg.customer_reference == "C:\\u0000"  # type: ignore[attr-defined]


def test_decode_errors_say_what_is_wrong() -> None:
    topic = "oms/v1/wb-zwolle-1/up/weighing"
    with pytest.raises(protocols.InvalidJson):
        protocols.decode_up(topic, b"{not json")
    with pytest.raises(protocols.SchemaMismatch, match="net"):
        protocols.decode_up(topic, _ticket_bytes(net="18241"))
    with pytest.raises(protocols.TopicMismatch, match="differs from topic device"):
        protocols.decode_up("oms/v1/wb-other/up/weighing", _ticket_bytes())
    with pytest.raises(protocols.TopicMismatch, match="sent on stream"):
        protocols.decode_up("oms/v1/wb-zwolle-1/up/measurement", _ticket_bytes())
    with pytest.raises(protocols.PayloadTooLarge):
        protocols.decode_up(topic, b" " * (protocols.messages.MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(protocols.SchemaMismatch, match="JSON object"):
        protocols.decode_up(topic, b"[1, 2]")
    with pytest.raises(protocols.BadTopic):
        protocols.decode_up("oms/v1/wb-zwolle-1/down/receipt", _ticket_bytes())


def test_weights_are_never_floats_and_never_invented() -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="needs a value"):
        protocols.WeightReading(at=now, channel="b", condition="ok", unit="kg")
    with pytest.raises(ValueError, match="carries no value"):
        protocols.WeightReading(at=now, channel="b", condition="overload", value=Decimal(0))
    over = protocols.WeightReading(at=now, channel="b", condition="overload")
    assert over.value is None
    r = protocols.WeightReading(at=now, channel="b", value="0.1", unit="t")
    assert r.value == Decimal("0.1")
    assert '"value":"0.1"' in r.model_dump_json()


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        protocols.Status(
            message_id=uuid.uuid4(),
            device_id="wb-1",
            seq=0,
            occurred_at=datetime(2026, 1, 1),
            online=True,
        )


def test_unknown_fields_are_ignored_for_additive_changes() -> None:
    msg = protocols.decode(_ticket_bytes(added_in_v1_1="x"))
    assert msg.type == "weighing"
