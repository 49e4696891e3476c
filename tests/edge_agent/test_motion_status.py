"""A scale that reports motion *instead of* a weight (Toledo 8217 answers ``W`` with ``?A``
while the load moves): the agent must stop treating the weight before it as stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.agent import Agent, Downlink, ReadingEvent
from edge_agent.clock import FakeClock
from edge_agent.config import AgentConfig
from edge_agent.terminal import state
from edge_agent.workflows.onboard import JobError
from firmware_profiles import Reading, get_profile, toledo_8217
from tests.edge_agent.test_onboard import dispatch

pytestmark = pytest.mark.unit

PROFILE = get_profile("toledo-8217")
WEIGHT = toledo_8217.encode_weight("12.500")  # 12.500 kg, stable (8217 sends no motion flag)
MOTION = toledo_8217.encode_status("motion")  # b"\x02?A\r"


def make_agent(tmp_path: Path, role: str) -> Agent:
    cfg = AgentConfig(
        device_id="truck-1" if role == "onboard" else "wb-1",
        outbox={"path": tmp_path / "o.db"},
        weighbridge={"min_weight_kg": 1},
        ports=[{"name": "scale", "url": "loop://", "profile": "toledo-8217", "role": role}],
    )
    return Agent(cfg, clock=FakeClock(), start_uplink=False)


def feed(agent: Agent, raw: bytes) -> None:
    """What the port reader does: decode the reply, hand each reading to the agent loop."""
    for item in PROFILE.decode(raw):
        assert isinstance(item, Reading), item
        agent.handle(ReadingEvent("scale", item, agent.clock.now()))


def test_the_motion_status_reads_as_not_stable() -> None:
    [reading] = PROFILE.decode(MOTION)
    assert isinstance(reading, Reading)
    assert reading.kind == "status" and reading.stable is False
    assert reading.to_json()["stable"] is False


def test_driver_cannot_record_the_weight_from_before_the_motion(tmp_path: Path) -> None:
    agent = make_agent(tmp_path, "onboard")
    assert agent.onboard is not None
    agent.handle(Downlink(dispatch()))
    feed(agent, WEIGHT)
    assert state(agent)["onboard"]["stable"] is True
    feed(agent, MOTION)
    assert state(agent)["onboard"]["stable"] is False
    with pytest.raises(JobError, match="no stable weight"):
        agent.onboard.record_weight("2026-000001")
    feed(agent, WEIGHT)  # settled again: recorded
    assert agent.onboard.record_weight("2026-000001")["value"] == "12.500"
    agent.outbox.close()


def test_weighbridge_terminal_stops_showing_stable_on_motion(tmp_path: Path) -> None:
    agent = make_agent(tmp_path, "weighbridge")
    assert agent.weighbridge is not None
    feed(agent, WEIGHT)
    assert state(agent)["weighbridge"]["stable"] is True
    assert agent.weighbridge.last_stable is not None
    feed(agent, MOTION)
    shown = state(agent)["weighbridge"]
    assert shown["stable"] is False and shown["weight"] == "12.500"
    assert agent.weighbridge.last_stable is None
    agent.outbox.close()
