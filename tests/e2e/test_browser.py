"""The pages people use, in a real browser (Debian's Chromium driven by Playwright): the office
pages (the full set of screens is in ``tests/web``), the driver's page on the truck (signature
drawn on the canvas) and the weighbridge terminal."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.entrypoints.app import create_app
from cloud.ingest.runner import ingest_batch
from cloud.migrations import upgrade
from cloud.settings import Settings
from tests.support import services
from tests.support.factories import create_world, incoming, ticket

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        services.missing("Chromium", "not installed (deploy/dev/install-test-browser.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        services.missing("Playwright", "the python package is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def serve(app: object) -> tuple[uvicorn.Server, int]:
    port = services.free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, port


def test_office_pages_login_orders_and_logout(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The office pages (``cloud.web``) over weighings that came in through ingest: the login
    form goes away after logging in, the orders show what was weighed, logout revokes."""
    url = f"sqlite:///{(tmp_path / 'oms.db').as_posix()}"
    upgrade(url)
    factory = make_sessionmaker(make_engine(url))
    with transaction(factory) as s:
        create_world(s)
    ingest_batch(
        factory,
        [
            incoming(ticket(number="WB-000042")),
            incoming(ticket(number="WB-000043", seq=2, card="FFFFFFFFFF")),
        ],
    )
    server, port = serve(create_app(Settings(environment="test", database_url=url), factory))
    try:
        page = browser.new_page()
        refused: list[str] = []  # the CSP forbids inline script: the page must not need any
        page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)
        page.goto(f"http://127.0.0.1:{port}/")
        page.fill("input[name=email]", "planner@acme.example")
        page.fill("input[name=password]", "wrong")
        page.click("form#login button[type=submit]")
        page.wait_for_selector("#login-error")
        page.fill("input[name=password]", "secret-pw")
        page.click("form#login button[type=submit]")
        page.wait_for_selector("table#orders tbody tr")
        assert page.locator("form#login").count() == 0  # logged in: the form is gone
        rows = page.locator("table#orders tbody tr")
        assert rows.count() == 2
        text = page.inner_text("table#orders tbody")
        assert "18.240 kg" in text and "Uitgevoerd" in text
        assert "unknown vehicle" in text  # the walk-in with an unknown card is flagged
        page.locator("table#orders tbody tr", has_text="acme customer").first.locator("a").click()
        page.wait_for_selector("#weighings")
        assert "WB-000042" in page.inner_text("#weighings")
        token = next(c["value"] for c in page.context.cookies() if c["name"] == "oms_session")
        me = f"http://127.0.0.1:{port}/api/v1/me"
        assert httpx.get(me, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        page.click("#logout")
        page.wait_for_selector("form#login")
        # Logged out on the server too: the token no longer works anywhere.
        assert httpx.get(me, headers={"Authorization": f"Bearer {token}"}).status_code == 401
        page.screenshot(path=str(tmp_path / "dashboard-logged-out.png"))
        assert refused == []
    finally:
        server.should_exit = True


def test_api_docs_render_from_vendored_assets_under_the_csp(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{(tmp_path / 'oms.db').as_posix()}"
    upgrade(url)
    server, port = serve(create_app(Settings(environment="test", database_url=url)))
    try:
        page = browser.new_page()
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)
        outside: list[str] = []
        page.on(
            "request",
            lambda r: (
                None if r.url.startswith(("http://127.0.0.1", "data:")) else outside.append(r.url)
            ),
        )
        page.goto(f"http://127.0.0.1:{port}/api/docs")
        page.wait_for_selector(".swagger-ui .info .title:has-text('OMS')")
        page.wait_for_selector(".opblock-summary-path:has-text('/api/v1/auth/token')")
        page.screenshot(path=str(tmp_path / "api-docs.png"))
        assert outside == [] and refused == []
    finally:
        server.should_exit = True


def test_driver_signs_and_completes_a_job_on_the_truck_page(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from edge_agent.agent import Agent, Downlink
    from edge_agent.config import AgentConfig
    from protocols import decode
    from tests.edge_agent.test_onboard import dispatch

    port = services.free_port()
    agent = Agent(
        AgentConfig(
            device_id="truck-1",
            terminal_listen=f"127.0.0.1:{port}",
            terminal_token="1234",
            outbox={"path": tmp_path / "o.db"},
        ),
        start_uplink=False,
    )
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    agent.events.put(Downlink(dispatch()))
    try:
        services.wait_port(port)
        page = browser.new_page(viewport={"width": 800, "height": 1200})
        page.goto(f"http://127.0.0.1:{port}/?token=1234")
        job = page.locator("section.job").first
        job.wait_for()
        assert "De Vries" in job.inner_text()
        job.locator("button[data-act=arrive]").click()
        page.wait_for_selector("section.job .meta:has-text('status: arrived')")
        job = page.locator("section.job").first
        job.locator("input.manual").fill("640")
        job.locator("button[data-act=manual]").click()
        page.wait_for_selector("section.job .weights:has-text('640 kg')")
        job = page.locator("section.job").first
        job.locator("input.signer").fill("J. Klant")
        box = job.locator("canvas.sign").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + 40, box["y"] + 120)
        page.mouse.down()
        for i in range(1, 30):
            page.mouse.move(box["x"] + 40 + i * 12, box["y"] + 120 - (i % 7) * 9)
        page.mouse.up()
        job.locator("button[data-act=sign]").click()
        page.wait_for_function("() => !document.querySelector('#msg').textContent")
        page.locator("section.job").first.locator("button[data-act=complete]").click()
        page.wait_for_selector("section.job.done .meta:has-text('status: completed')")
        msgs = [decode(p.payload) for p in agent.outbox.pending(limit=10)]
        pod = next(m for m in msgs if m.type == "pod")
        assert pod.signer_name == "J. Klant" and pod.signature is not None
        done = next(m for m in msgs if m.type == "job-update" and m.event == "completed")
        assert [str(w.value) for w in done.weights] == ["640"]
    finally:
        agent.stop()
        runner.join(timeout=10)


def test_weighbridge_terminal_shows_the_weight_and_takes_a_plate(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from edge_agent.agent import Agent, ReadingEvent
    from edge_agent.config import AgentConfig
    from firmware_profiles import Reading

    port = services.free_port()
    agent = Agent(
        AgentConfig(
            device_id="wb-1",
            terminal_listen=f"127.0.0.1:{port}",
            outbox={"path": tmp_path / "o.db"},
            # loop:// opens and stays silent: the test feeds the weights itself, 10 a second.
            ports=[
                {
                    "name": "bridge",
                    "url": "loop://",
                    "profile": "toledo-continuous",
                    "role": "weighbridge",
                }
            ],
        ),
        start_uplink=False,
    )
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        services.wait_port(port)
        from datetime import UTC, datetime
        from decimal import Decimal

        truck = Reading(
            kind="weight", weight=Decimal("32460"), unit="kg", stable=True, mode="gross"
        )
        feeding = threading.Event()

        def feed() -> None:
            while not feeding.wait(0.1):
                agent.events.put(ReadingEvent("bridge", truck, datetime.now(UTC)))

        threading.Thread(target=feed, daemon=True).start()
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#weight:has-text('32460')")
        assert "stabiel" in page.inner_text("#stable")
        page.fill("#plate", "bx-123-z")
        page.click("#plate-form button")
        page.wait_for_selector("#plate-msg:has-text('BX-123-Z')")
        page.wait_for_selector("#open tr:has-text('BX-123-Z')")  # the first weighing is open
        assert "32460 kg" in page.inner_text("#open")
        feeding.set()
    finally:
        agent.stop()
        runner.join(timeout=10)
