from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from edge_agent.outbox import Outbox, OutboxFull
from protocols import Measurement, Rejection, WeightReading
from tests.support.factories import ticket

pytestmark = pytest.mark.unit
T = datetime(2026, 11, 27, 8, tzinfo=UTC)


def meas(n: int = 10):  # type: ignore[no-untyped-def]
    def build(seq: int, mid: uuid.UUID) -> Measurement:
        return Measurement(
            message_id=mid,
            device_id="wb-1",
            seq=seq,
            occurred_at=T,
            readings=[
                WeightReading(
                    at=T, channel="bridge", value=Decimal(1000 + i), unit="kg", stable=True
                )
                for i in range(n)
            ],
        )

    return build


def weighing(seq: int, mid: uuid.UUID):  # type: ignore[no-untyped-def]
    return ticket(seq=seq, message_id=mid, number=f"WB-{seq}")


def test_durability_settings(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    assert box.pragma("journal_mode") == "wal"
    assert box.pragma("synchronous") == 2  # FULL


def test_seq_is_monotonic_and_survives_reopening(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    a = box.append(meas())
    b = box.append(weighing)
    assert (a.seq, b.seq) == (1, 2)
    box.acknowledge([str(a.message_id), str(b.message_id)])
    box.close()
    box = Outbox(tmp_path / "o.db")
    assert box.append(meas()).seq == 3  # never reused, even with an empty outbox
    assert box.stats().backlog == 1


def test_pending_in_seq_order_and_ack_deletes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    msgs = box.append_many([meas(), weighing, meas()])
    pend = box.pending(limit=10)
    assert [p.seq for p in pend] == [1, 2, 3]
    assert [p.type for p in pend] == ["measurement", "weighing", "measurement"]
    assert box.pending(limit=10, exclude=[pend[0].message_id])[0].seq == 2
    assert box.acknowledge([str(msgs[1].message_id), str(uuid.uuid4())]) == 1
    assert [p.seq for p in box.pending(limit=10)] == [1, 3]


def test_rejected_messages_are_kept_aside_not_lost(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    w = box.append(weighing)
    assert box.reject([Rejection(message_id=w.message_id, reason="processing_error: x")]) == 1
    assert box.stats().backlog == 0
    kept = box.rejected()
    assert kept[0]["message_id"] == str(w.message_id) and kept[0]["type"] == "weighing"


def test_over_budget_measurements_are_thinned_weighings_always_kept(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", budget_bytes=20_000)
    stored = 0
    for _ in range(200):
        try:
            box.append(meas(20))
            stored += 1
        except OutboxFull:
            pass
    st = box.stats()
    assert st.thinned > 0 and st.refused > 0 and st.alarm
    assert st.bytes <= 20_000
    for _ in range(5):
        box.append(weighing)  # priority 0: stored whatever the budget
    seqs = [p.seq for p in box.pending(limit=10_000)]
    assert seqs == list(range(1, len(seqs) + 1)), "thinning keeps every seq: no gaps"
    assert len(seqs) == stored + 5


def test_a_rolled_back_transaction_takes_no_seq(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    with pytest.raises(RuntimeError), box.transaction() as db:
        box.append(meas(), db)
        raise RuntimeError("crash before commit")
    assert box.append(meas()).seq == 1
