"""The two-pass weighbridge workflow with a fake clock and an outbox on disk."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from edge_agent.clock import FakeClock
from edge_agent.config import WeighbridgeConfig
from edge_agent.outbox import Outbox
from edge_agent.workflows.weighbridge import WeighbridgeWorkflow
from firmware_profiles import Reading
from protocols import decode

pytestmark = pytest.mark.unit


@pytest.fixture
def wf(tmp_path: Path) -> WeighbridgeWorkflow:
    return WeighbridgeWorkflow(
        WeighbridgeConfig(instrument_id="ind-1", ticket_prefix="T"),
        outbox=Outbox(tmp_path / "o.db"),
        device_id="wb-1",
        clock=FakeClock(),
    )


def w(value: str | None, *, stable: bool = True, condition: str = "ok") -> Reading:
    return Reading(
        kind="weight",
        weight=Decimal(value) if value is not None else None,
        unit="kg",
        stable=stable,
        mode="gross",
        condition=condition,
    )  # type: ignore[arg-type]


def drive(wf: WeighbridgeWorkflow, value: str, *, settle: int = 3) -> None:
    clock: FakeClock = wf.clock  # type: ignore[assignment]
    for _ in range(3):
        clock.advance(0.1)
        wf.on_weight(w(value, stable=False), stable=False, at=clock.now())
    for _ in range(settle):
        clock.advance(0.1)
        wf.on_weight(w(value), stable=True, at=clock.now())
    for _ in range(3):
        clock.advance(0.1)
        wf.on_weight(w("0"), stable=True, at=clock.now())


def tickets(wf: WeighbridgeWorkflow) -> list:  # type: ignore[type-arg]
    return [decode(p.payload) for p in wf.outbox.pending(limit=100) if p.type == "weighing"]


def test_two_pass_weighing_makes_one_ticket(wf: WeighbridgeWorkflow) -> None:
    wf.on_tag("000414CD7E")
    drive(wf, "32460")
    assert tickets(wf) == [] and wf.outbox.get_state("open:card:000414CD7E")["weight"] == "32460"
    wf.clock.advance(600)  # type: ignore[attr-defined]
    wf.on_tag("000414CD7E")
    drive(wf, "14220")
    [t] = tickets(wf)
    assert (t.gross, t.tare, t.net) == (Decimal("32460"), Decimal("14220"), Decimal("18240"))
    assert (
        t.tare_kind == "measured" and t.rfid_card == "000414CD7E" and t.ticket_number == "T-000001"
    )
    assert t.first.at < t.second.at and t.instrument_id == "ind-1"
    assert wf.outbox.get_state("open:card:000414CD7E") is None


def test_empty_truck_first_then_loaded(wf: WeighbridgeWorkflow) -> None:
    wf.on_plate(" bx-123-z ")
    drive(wf, "9860")
    wf.on_plate("BX-123-Z")
    drive(wf, "18740")
    [t] = tickets(wf)
    assert (t.gross, t.tare, t.net, t.plate) == (
        Decimal("18740"),
        Decimal("9860"),
        Decimal("8880"),
        "BX-123-Z",
    )


def test_no_weighing_without_identification_until_one_arrives(wf: WeighbridgeWorkflow) -> None:
    clock: FakeClock = wf.clock  # type: ignore[assignment]
    for _ in range(5):
        clock.advance(0.1)
        wf.on_weight(w("32460"), stable=True, at=clock.now())
    assert wf.outbox.get_state("open:card:AB") is None and "present a card" in wf.last_event
    wf.on_tag("AB")  # the card is read while the truck stands still: weigh now
    assert wf.outbox.get_state("open:card:AB")["weight"] == "32460"


def test_unstable_overload_and_stale_weights_are_never_used(wf: WeighbridgeWorkflow) -> None:
    clock: FakeClock = wf.clock  # type: ignore[assignment]
    wf.on_tag("AB")
    for _ in range(20):
        clock.advance(0.1)
        wf.on_weight(w("32460", stable=False), stable=False, at=clock.now())
    clock.advance(0.1)
    wf.on_weight(w(None, condition="overload"), stable=False, at=clock.now())
    assert wf.outbox.get_state("open:card:AB") is None
    # a stable weight, then the port is lost before the card: nothing is weighed later
    wf2_card = "CD"
    clock.advance(0.1)
    wf.on_weight(w("20000"), stable=True, at=clock.now())
    assert wf.outbox.get_state("open:card:AB") is not None  # weighed: card AB was present
    wf.on_weight(w("0"), stable=True, at=clock.now())
    clock.advance(0.1)
    wf.on_weight(w("21000"), stable=True, at=clock.now())
    wf.on_port_lost()
    wf.on_tag(wf2_card)
    assert wf.outbox.get_state(f"open:card:{wf2_card}") is None
    # a stable weight seen long ago is stale
    wf.on_weight(w("21000"), stable=True, at=clock.now())
    clock.advance(5)
    wf.on_tag("EF")
    assert wf.outbox.get_state("open:card:EF") is None


def test_one_weighing_per_visit(wf: WeighbridgeWorkflow) -> None:
    clock: FakeClock = wf.clock  # type: ignore[assignment]
    wf.on_tag("AB")
    for _ in range(50):
        clock.advance(0.1)
        wf.on_weight(w("32460"), stable=True, at=clock.now())
    wf.on_tag("AB")  # the card swiped twice while standing on the bridge
    assert tickets(wf) == []  # still only the first weighing


def test_ticket_numbers_continue_after_restart(tmp_path: Path) -> None:
    cfg = WeighbridgeConfig(instrument_id="ind-1", ticket_prefix="T")
    for expected in ("T-000001", "T-000002"):
        wf = WeighbridgeWorkflow(
            cfg, outbox=Outbox(tmp_path / "o.db"), device_id="wb-1", clock=FakeClock()
        )
        wf.on_tag("AB")
        drive(wf, "30000")
        wf.on_tag("AB")
        drive(wf, "10000")
        assert tickets(wf)[-1].ticket_number == expected
        wf.outbox.close()


def test_single_pass_with_a_stored_tare_from_the_office(tmp_path: Path) -> None:
    import uuid
    from datetime import date

    from edge_agent.uploads import FileStore
    from protocols import DeviceConfig, VehicleTare

    box = Outbox(tmp_path / "o.db")
    wf = WeighbridgeWorkflow(
        WeighbridgeConfig(instrument_id="ind-1", ticket_prefix="T"),
        outbox=box,
        device_id="wb-1",
        clock=FakeClock(),
        files=FileStore(box),
    )
    cfg = DeviceConfig(
        message_id=uuid.uuid4(),
        device_id="wb-1",
        seq=2,
        occurred_at=wf.clock.now(),
        revision=2,
        vehicles=[
            VehicleTare(plate="VT-808-K", stored_tare=Decimal("11940")),
            VehicleTare(rfid_card="OLD", stored_tare=Decimal("9000"), valid_until=date(2020, 1, 1)),
        ],
    )
    wf.on_config(cfg)
    wf.on_config(cfg.model_copy(update={"revision": 1, "vehicles": []}))  # older: ignored
    wf.on_plate("vt808k")
    drive(wf, "26780")
    [t] = tickets(wf)
    assert (t.gross, t.tare, t.net, t.tare_kind) == (
        Decimal("26780"),
        Decimal("11940"),
        Decimal("14840"),
        "stored",
    )
    assert t.second is None and t.document_sha256
    text = (box.path.parent / "files" / t.document_sha256).read_text()
    assert "Netto:            14840 kg" in text and "vaste tarra" in text and "VT808K" in text
    wf.on_tag("OLD")  # expired stored tare: two passes as usual
    drive(wf, "20000")
    assert len(tickets(wf)) == 1 and wf.outbox.get_state("open:card:OLD") is not None
