"""The truck's job workflow with a fake clock, its local page over HTTP, and uploads."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from edge_agent.agent import Agent
from edge_agent.clock import FakeClock
from edge_agent.config import AgentConfig, OnboardConfig
from edge_agent.outbox import Outbox
from edge_agent.uploads import FileStore
from edge_agent.workflows.onboard import JobError, OnboardWorkflow
from firmware_profiles import Reading
from protocols import Job, JobDispatch, decode

pytestmark = pytest.mark.unit


def dispatch(job_id: str = "2026-000001", revision: int = 1, action: str = "upsert") -> JobDispatch:
    clock = FakeClock()
    job = Job(
        job_id=job_id,
        order_number=job_id,
        revision=revision,
        sequence=1,
        kind="exchange",
        planned_date=date(2026, 11, 27),
        customer_name="De Vries",
    )
    return JobDispatch(
        message_id=uuid.uuid4(),
        device_id="truck-1",
        seq=revision,
        occurred_at=clock.now(),
        action=action,
        job_id=job_id,
        job=job if action == "upsert" else None,
    )


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def wf(tmp_path: Path) -> OnboardWorkflow:
    box = Outbox(tmp_path / "o.db")
    return OnboardWorkflow(
        OnboardConfig(), outbox=box, files=FileStore(box), device_id="truck-1", clock=FakeClock()
    )


def w(value: str, stable: bool = True) -> Reading:
    return Reading(kind="weight", weight=Decimal(value), unit="kg", stable=stable, mode="net")


def sent(wf: OnboardWorkflow) -> list:  # type: ignore[type-arg]
    return [decode(p.payload) for p in wf.outbox.pending(limit=100)]


def test_jobs_are_kept_and_newer_revisions_win(wf: OnboardWorkflow) -> None:
    wf.on_dispatch(dispatch(revision=2))
    wf.on_dispatch(dispatch(revision=1))  # late, older: ignored
    assert wf.jobs()[0]["revision"] == 2 and wf.jobs()[0]["status"] == "open"
    wf.on_dispatch(dispatch(action="cancel"))
    assert wf.jobs()[0]["status"] == "cancelled"
    with pytest.raises(JobError, match="cancelled"):
        wf.arrive("2026-000001")


def test_full_job_with_bin_lifts_photo_and_signature(wf: OnboardWorkflow) -> None:
    clock: FakeClock = wf.clock  # type: ignore[assignment]
    wf.on_dispatch(dispatch())
    wf.arrive("2026-000001")
    wf.start("2026-000001")
    wf.on_tag("999000001234567")
    clock.advance(1)
    wf.on_weight(w("85", stable=False), stable=False, at=clock.now())
    wf.on_weight(w("85"), stable=True, at=clock.now())
    wf.on_weight(w("86"), stable=True, at=clock.now())  # same lift, tag used: not twice
    with pytest.raises(JobError, match="no stable weight"):
        wf.on_port_lost()
        wf.record_weight("2026-000001")
    wf.record_weight("2026-000001", manual=Decimal("1200"))
    att = wf.add_photo("2026-000001", jpeg())
    sig = wf.sign("2026-000001", signer=" J. Klant ", strokes=[[(0.1, 0.5), (0.9, 0.5)]])
    wf.set_counts("2026-000001", {"containers_placed": 1})
    wf.set_notes("2026-000001", "poort dicht")
    wf.complete("2026-000001")
    msgs = sent(wf)
    assert [m.type for m in msgs] == ["job-update", "job-update", "pod", "job-update"]
    assert [m.seq for m in msgs] == [1, 2, 3, 4]
    pod, done = msgs[2], msgs[3]
    assert pod.signature == sig and pod.photos == [att] and pod.signer_name == "J. Klant"
    assert done.event == "completed" and done.counts == {"containers_placed": 1}
    assert [(str(x.value), x.source, x.tag_id) for x in done.weights] == [
        ("85", "scale", "999000001234567"),
        ("1200", "manual", None),
    ]
    assert wf.files.pending() == 2  # photo and signature queued for upload
    with pytest.raises(JobError, match="completed"):
        wf.complete("2026-000001")


def test_a_failed_job_needs_a_reason(wf: OnboardWorkflow) -> None:
    wf.on_dispatch(dispatch())
    with pytest.raises(JobError):
        wf.fail("2026-000001", "  ")
    wf.fail("2026-000001", "container geblokkeerd")
    [m] = sent(wf)
    assert m.event == "failed" and m.reason == "container geblokkeerd"


def test_stale_or_unstable_weights_are_refused(wf: OnboardWorkflow) -> None:
    clock: FakeClock = wf.clock  # type: ignore[assignment]
    wf.on_dispatch(dispatch())
    wf.on_weight(w("500", stable=False), stable=False, at=clock.now())
    with pytest.raises(JobError):
        wf.record_weight("2026-000001")
    wf.on_weight(w("500"), stable=True, at=clock.now())
    clock.advance(60)
    with pytest.raises(JobError, match="too old"):
        wf.record_weight("2026-000001")
    with pytest.raises(JobError, match="negative"):
        wf.record_weight("2026-000001", manual=Decimal("-1"))


def test_bad_photo_is_refused_and_nothing_stored(wf: OnboardWorkflow) -> None:
    from edge_agent.images import ImageRejected

    wf.on_dispatch(dispatch())
    with pytest.raises(ImageRejected):
        wf.add_photo("2026-000001", b"GIF89a....")
    assert wf.jobs()[0]["photos"] == [] and wf.files.pending() == 0


# -- the local page -------------------------------------------------------------------------


@pytest.fixture
def agent(tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = AgentConfig(
        device_id="truck-1",
        terminal_listen="127.0.0.1:0",
        terminal_token="s3cret",
        outbox={"path": tmp_path / "o.db"},
    )
    a = Agent(cfg, start_uplink=False)
    runner = threading.Thread(target=a.run, daemon=True)
    runner.start()
    for _ in range(100):
        if a.terminal is not None:
            break
        threading.Event().wait(0.02)
    a.events.put(__import__("edge_agent.agent", fromlist=["Downlink"]).Downlink(dispatch()))
    yield a
    a.stop()
    runner.join(timeout=10)


def call(
    agent,
    path: str,
    body: object = None,
    *,
    raw: bytes | None = None,
    token: str = "s3cret",  # type: ignore[no-untyped-def]
    ctype: str = "application/json",
) -> tuple[int, dict]:  # type: ignore[type-arg]
    url = f"http://127.0.0.1:{agent.terminal.port}{path}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    req.add_header("Content-Type", ctype)
    req.add_header("X-Terminal-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_driver_page_drives_a_job_end_to_end(agent) -> None:  # type: ignore[no-untyped-def]
    page = urllib.request.urlopen(f"http://127.0.0.1:{agent.terminal.port}/", timeout=5).read()
    assert b"Ritten" in page
    assert call(agent, "/api/state", token="wrong")[0] == 401
    status, st = call(agent, "/api/state")
    assert (
        status == 200
        and st["role"] == "onboard"
        and st["onboard"]["jobs"][0]["job_id"] == "2026-000001"
    )
    job = "/api/jobs/2026-000001"
    assert call(agent, f"{job}/arrive", {})[0] == 200
    assert call(agent, f"{job}/weight", {"manual": "abc"})[0] == 422
    assert call(agent, f"{job}/weight", {"manual": "740.5"})[0] == 200
    assert call(agent, f"{job}/photo", raw=b"not an image", ctype="image/jpeg")[0] == 422
    status, body = call(agent, f"{job}/photo", raw=jpeg(), ctype="image/jpeg")
    assert status == 200 and body["result"]["content_type"] == "image/jpeg"
    assert (
        call(agent, f"{job}/sign", {"signer": "A", "strokes": [[[0.2, 0.2], [0.8, 0.7]]]})[0] == 200
    )
    assert call(agent, f"{job}/counts", {"counts": {"Bad-Key": 1}})[0] == 422
    assert call(agent, f"{job}/complete", {})[0] == 200
    status, st = call(agent, "/api/state")
    assert st["onboard"]["jobs"][0]["status"] == "completed"
    assert st["outbox"]["backlog"] == 3 and st["uploads_pending"] == 2


def test_the_page_token_never_reaches_the_log(agent) -> None:  # type: ignore[no-untyped-def]
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        url = f"http://127.0.0.1:{agent.terminal.port}/api/state?token=s3cret&x=1"
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert resp.status == 200
    lines = [e["line"] for e in logs if e["event"] == "edge_agent.terminal_request"]
    assert lines and all("s3cret" not in line for line in lines)
    assert "token=***&x=1" in lines[0]
