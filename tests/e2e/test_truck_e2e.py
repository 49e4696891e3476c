"""A truck job end to end, real all the way: the planner dispatches an order over the API; the
ingest process publishes the job through Mosquitto; the edge agent (a process) keeps it and
serves the driver's page; the driver records a weight, a photo and a signature and completes
the job; PoD and completion travel back over MQTT, the files over HTTPS; the order is
executed with its documents stored."""

from __future__ import annotations

import io
import json
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.devices.service import add_device
from cloud.documents.models import Document
from cloud.orders.models import Order
from tests.e2e.conftest import Procs
from tests.support.factories import create_world
from tests.support.services import free_port, wait_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def http(
    url: str,
    body: object = None,
    *,
    token: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, object]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(pred, timeout: float = 60.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_dispatch_job_pod_and_documents(
    pg_url: str, mosquitto, procs: Procs, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    factory = make_sessionmaker(make_engine(pg_url))
    with transaction(factory) as s:
        world = create_world(s, slug="trucks", device_id="wb-unused")
        _, password = add_device(
            s,
            tenant_id=world.tenant_id,
            device_id="truck-7",
            kind="truck",
            vehicle_id=world.vehicle_id,
        )
    env = {
        "OMS_DATABASE_URL": pg_url,
        "OMS_MQTT_URL": mosquitto.url,
        "OMS_DATA_DIR": str(tmp_path / "cloud"),
    }
    api_port, page_port = free_port(), free_port()
    procs.start("api", ["-m", "cloud.entrypoints.cli", "serve", "--port", str(api_port)], env)
    procs.start("ingest", ["-m", "cloud.entrypoints.cli", "ingest"], env)
    cfg = tmp_path / "truck.toml"
    cfg.write_text(f"""
device_id = "truck-7"
api_url = "http://127.0.0.1:{api_port}"
terminal_listen = "127.0.0.1:{page_port}"
heartbeat_s = 2
[mqtt]
url = "{mosquitto.url}"
password = "{password}"
[outbox]
path = "{(tmp_path / "truck" / "outbox.db").as_posix()}"
""")
    procs.start("agent", ["-m", "edge_agent", "--config", str(cfg)])
    assert wait_port(api_port, 20) and wait_port(page_port, 20), procs.log("api") + procs.log(
        "agent"
    )
    api = f"http://127.0.0.1:{api_port}/api/v1"
    page = f"http://127.0.0.1:{page_port}/api"

    status, order = http(
        f"{api}/orders",
        {
            "customer_id": world.customer_id,
            "order_type": "container_exchange",
            "vehicle_id": world.vehicle_id,
            "notes": "bij de poort",
        },
        token=world.token,
    )
    assert status == 201, order
    status, body = http(f"{api}/orders/{order['id']}/dispatch", {}, token=world.token)  # type: ignore[index]
    assert status == 202, body

    def job_on_truck() -> bool:
        _, st = http(f"{page}/state")
        return bool(st["onboard"]["jobs"])  # type: ignore[index]

    wait_for(job_on_truck, 30, "the job on the truck" + procs.log("ingest"))
    job = f"{page}/jobs/{order['number']}"  # type: ignore[index]
    for action, body in [
        ("arrive", {}),
        ("start", {}),
        ("weight", {"manual": "2380"}),
        ("sign", {"signer": "P. Uitvoerder", "strokes": [[[0.1, 0.6], [0.5, 0.3], [0.9, 0.7]]]}),
        ("counts", {"counts": {"containers_placed": 1, "containers_collected": 1}}),
    ]:
        status, out = http(f"{job}/{action}", body)
        assert status == 200, (action, out)
    img = io.BytesIO()
    Image.new("RGB", (2400, 1800), (90, 120, 60)).save(img, "JPEG")
    status, out = http(f"{job}/photo", raw=img.getvalue(), headers={"Content-Type": "image/jpeg"})
    assert status == 200, out
    assert http(f"{job}/complete", {})[0] == 200

    def executed() -> bool:
        with factory() as s:
            return s.get(Order, order["id"]).status == "executed"  # type: ignore[index]

    wait_for(executed, 60, "the order executed" + procs.log("ingest") + procs.log("agent"))

    def documents_stored() -> bool:
        with factory() as s:
            docs = s.scalars(select(Document).where(Document.order_id == order["id"])).all()  # type: ignore[index]
        return len(docs) == 2 and all(d.stored for d in docs)

    wait_for(
        documents_stored, 60, "photo and signature uploaded" + procs.log("agent") + procs.log("api")
    )

    with factory() as s:
        o = s.get(Order, order["id"])  # type: ignore[index]
        docs = {d.kind: d for d in s.scalars(select(Document).where(Document.order_id == o.id))}
    assert str(o.actual_quantity_kg) == "2380"
    assert o.review_reasons == ["manually entered weight"]  # typed by the driver: a person looks
    assert o.actual_counts == {"containers_placed": 1, "containers_collected": 1}
    assert docs["photo"].content_type == "image/jpeg" and docs["photo"].original_sha256
    # The stored photo is the downscaled, stripped one, served back byte for byte.
    status_dl = urllib.request.urlopen(
        urllib.request.Request(
            f"{api}/documents/{docs['photo'].id}/content",
            headers={"Authorization": f"Bearer {world.token}"},
        ),
        timeout=10,
    )
    data = status_dl.read()
    assert Image.open(io.BytesIO(data)).size == (1600, 1200)
    import hashlib

    assert hashlib.sha256(data).hexdigest() == docs["photo"].sha256
