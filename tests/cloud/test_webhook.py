"""The webshop webhook: Standard Webhooks signatures on the raw body, idempotency per
``webhook-id`` and per shop order, customer and site matching, secrets and their rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cloud.customers.models import Customer, Site
from cloud.db import transaction, utcnow
from cloud.entrypoints.app import create_app
from cloud.entrypoints.webhook_cli import app as webhook_cli
from cloud.intake import service, webhooks
from cloud.intake.models import WebhookDelivery, WebhookSecret
from cloud.materials.models import Material
from cloud.orders.models import Order
from cloud.settings import Settings, get_settings
from cloud.tenancy.service import create_tenant

URL = "/api/v1/intake/webshop/{slug}"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


# -- signing, without a database -----------------------------------------------------------


def test_signature_matches_a_hand_computed_hmac() -> None:
    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    body = b'{"a": 1}'
    expected = base64.b64encode(
        hmac.new(key, b"msg_1.1674087231." + body, hashlib.sha256).digest()
    ).decode()
    assert webhooks.secret_key(secret) == key
    assert webhooks.sign(key=key, webhook_id="msg_1", timestamp=1674087231, body=body) == (
        "v1," + expected
    )


def _headers(sig: str, *, ts: datetime = NOW, webhook_id: str = "msg_1") -> webhooks.SignedHeaders:
    return webhooks.check_headers(
        webhook_id=webhook_id, timestamp=str(int(ts.timestamp())), signature=sig, now=NOW
    )


def test_any_of_several_signatures_and_keys_passes() -> None:
    old, new = (
        webhooks.secret_key(webhooks.new_secret()),
        webhooks.secret_key(webhooks.new_secret()),
    )
    ts = str(int(NOW.timestamp()))
    body = b"{}"
    by_old = webhooks.sign(key=old, webhook_id="msg_1", timestamp=ts, body=body)
    by_new = webhooks.sign(key=new, webhook_id="msg_1", timestamp=ts, body=body)
    assert webhooks.verify(keys=[new], headers=_headers(f"v1,bogus {by_new}"), body=body)
    assert webhooks.verify(keys=[new, old], headers=_headers(by_old), body=body)
    assert not webhooks.verify(keys=[new], headers=_headers(by_old), body=body)
    assert not webhooks.verify(keys=[new], headers=_headers(by_new), body=b"{} ")
    assert not webhooks.verify(keys=[new], headers=_headers(by_new, webhook_id="msg_2"), body=body)


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)]
)
def test_timestamps_outside_five_minutes_either_way_are_refused(skew: timedelta) -> None:
    with pytest.raises(webhooks.SignatureError, match="tolerance"):
        _headers("v1,x", ts=NOW + skew)


@pytest.mark.parametrize("skew", [timedelta(minutes=-5), timedelta(minutes=5)])
def test_timestamps_within_five_minutes_pass(skew: timedelta) -> None:
    assert _headers("v1,x", ts=NOW + skew).signatures == ("x",)


@pytest.mark.parametrize(
    ("webhook_id", "timestamp", "signature"),
    [
        (None, "1", "v1,x"),
        ("msg", None, "v1,x"),
        ("msg", "1", None),
        ("msg with space", "1", "v1,x"),
        ("m" * 101, "1", "v1,x"),
        ("msg", "12.5", "v1,x"),
        ("msg", "1", "v2,x"),
    ],
)
def test_malformed_headers_are_refused(
    webhook_id: str | None, timestamp: str | None, signature: str | None
) -> None:
    with pytest.raises(webhooks.SignatureError):
        webhooks.check_headers(
            webhook_id=webhook_id,
            timestamp=str(int(NOW.timestamp())) if timestamp == "1" else timestamp,
            signature=signature,
            now=NOW,
        )


def test_secrets_are_32_random_bytes() -> None:
    a, b = webhooks.new_secret(), webhooks.new_secret()
    assert a != b and a.startswith("whsec_")
    assert len(webhooks.secret_key(a)) == 32


# -- the endpoint ------------------------------------------------------------------------------


@pytest.fixture
def client(factory: sessionmaker[Session], db_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(environment="test", database_url=db_url), factory)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def shop(factory: sessionmaker[Session]) -> dict[str, Any]:
    with transaction(factory) as s:
        tenant = create_tenant(s, slug="acme", name="Acme B.V.")
        other = create_tenant(s, slug="globex", name="Globex B.V.")
        s.add(Material(tenant_id=tenant.id, code="PUIN", description="Puin, schoon"))
        secret = service.ensure_secret(s, tenant_id=tenant.id)
        other_secret = service.ensure_secret(s, tenant_id=other.id)
        return {
            "tenant_id": tenant.id,
            "secret": secret,
            "other_tenant_id": other.id,
            "other_secret": other_secret,
        }


def payload(shop_order_id: str = "1001", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "shop_order_id": shop_order_id,
        "customer": {
            "name": "Bouwbedrijf De Vries",
            "email": "info@devries.example",
            "kvk": "12345678",
            "phone": "+31 6 12345678",
            "address": {"street": "Kerkstraat 1", "postal_code": "1234 AB", "city": "Utrecht"},
        },
        "site": {"street": "Dorpsweg 12", "postal_code": "3456 CD", "city": "Zeist"},
        "order_type": "container_place",
        "container_type": "afzetcontainer 10m3",
        "material_code": "PUIN",
        "requested_date": (utcnow().date() + timedelta(days=3)).isoformat(),
        "reference": "PO-77",
        "notes": "Naast de poort",
    }
    body.update(changes)
    return body


def signed(
    body: bytes,
    secret: str,
    *,
    webhook_id: str = "msg_1",
    at: datetime | None = None,
    extra: str = "",
) -> dict[str, str]:
    ts = str(int((at or utcnow()).timestamp()))
    sig = webhooks.sign(
        key=webhooks.secret_key(secret), webhook_id=webhook_id, timestamp=ts, body=body
    )
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": ts,
        "webhook-signature": f"{extra} {sig}".strip(),
        "content-type": "application/json",
    }


def deliver(
    client: TestClient,
    secret: str,
    body: dict[str, Any] | bytes,
    *,
    slug: str = "acme",
    webhook_id: str = "msg_1",
    **kw: Any,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        URL.format(slug=slug),
        content=raw,
        headers=signed(raw, secret, webhook_id=webhook_id, **kw),
    )


def counts(factory: sessionmaker[Session]) -> tuple[int, int, int, int]:
    with factory() as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Order, Customer, Site, WebhookDelivery)
        )


def test_a_signed_order_makes_an_order_customer_and_site(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    r = deliver(client, shop["secret"], payload())
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"order_id", "number", "status", "customer_id", "created"}
    assert body["created"] is True and body["status"] == "created"
    with factory() as s:
        order = s.get(Order, body["order_id"])
        assert order is not None
        assert order.source == "webshop" and order.source_ref == "webshop:1001"
        assert order.tenant_id == shop["tenant_id"]
        assert order.order_type == "container_place"
        assert order.reference == "PO-77" and order.notes == "Naast de poort"
        assert order.container_type == "afzetcontainer 10m3"
        assert order.material_id is not None
        assert order.needs_review and any("new customer" in r for r in order.review_reasons)
        customer = s.get(Customer, body["customer_id"])
        assert customer is not None and customer.needs_review
        assert customer.email == "info@devries.example" and customer.kvk == "12345678"
        assert customer.street == "Kerkstraat 1" and customer.number
        site = s.get(Site, order.site_id)
        assert site is not None and site.customer_id == customer.id
        assert site.kind == "customer_site" and site.postal_code == "3456 CD"


def test_a_repeated_webhook_id_answers_the_same_and_makes_nothing(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    first = deliver(client, shop["secret"], payload())
    before = counts(factory)
    # The same id again, even with another body (correctly signed): the first answer.
    again = deliver(client, shop["secret"], payload("2002"))
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert counts(factory) == before


def test_the_same_shop_order_under_another_webhook_id_is_not_made_twice(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    first = deliver(client, shop["secret"], payload()).json()
    second = deliver(client, shop["secret"], payload(), webhook_id="msg_2")
    assert second.status_code == 201
    assert second.json() == {**first, "created": False}
    assert counts(factory)[0] == 1
    assert counts(factory)[3] == 2


def _no_writes(factory: sessionmaker[Session]) -> None:
    assert counts(factory) == (0, 0, 0, 0)


def test_bad_signatures_are_refused_and_write_nothing(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    raw = json.dumps(payload()).encode()
    good = signed(raw, shop["secret"])
    cases = [
        {**good, "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()},
        {k: v for k, v in good.items() if k != "webhook-signature"},
        {k: v for k, v in good.items() if k != "webhook-id"},
        {**good, "webhook-id": "msg_other"},  # the id is part of what is signed
        signed(raw, shop["other_secret"]),  # another tenant's secret
        signed(raw, shop["secret"], at=utcnow() - timedelta(minutes=6)),
        signed(raw, shop["secret"], at=utcnow() + timedelta(minutes=6)),
    ]
    for headers in cases:
        r = client.post(URL.format(slug="acme"), content=raw, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"] == "WebhookRejected"
    # The body is what was signed: one byte more and it is not.
    r = client.post(URL.format(slug="acme"), content=raw + b" ", headers=good)
    assert r.status_code == 401
    _no_writes(factory)


def test_an_unknown_tenant_answers_exactly_like_a_bad_signature(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    raw = json.dumps(payload()).encode()
    headers = signed(raw, shop["secret"])
    unknown = client.post(URL.format(slug="no-such-shop"), content=raw, headers=headers)
    bad = client.post(
        URL.format(slug="acme"),
        content=raw,
        headers={**headers, "webhook-signature": "v1,AAAA"},
    )
    assert unknown.status_code == bad.status_code == 401
    assert unknown.json() == bad.json()
    assert unknown.headers.get("www-authenticate") == bad.headers.get("www-authenticate")
    _no_writes(factory)


def test_a_signed_body_that_is_no_order_is_refused_and_writes_nothing(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    for body in (b"not json", json.dumps({**payload(), "status": "invoiced"}).encode()):
        r = deliver(client, shop["secret"], body)
        assert r.status_code == 422 and r.json()["error"] == "WebhookPayloadInvalid"
    r = deliver(client, shop["secret"], payload(customer={"name": "X", "email": "no-at-sign"}))
    assert r.status_code == 422 and "customer.email" in r.json()["detail"]
    _no_writes(factory)


def test_known_customers_are_matched_by_email_or_kvk_and_their_sites_by_address(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    with transaction(factory) as s:
        known = Customer(
            tenant_id=shop["tenant_id"],
            number="5001",
            name="De Vries",
            email="info@devries.example",  # the customers service stores it in lower case
        )
        by_kvk = Customer(tenant_id=shop["tenant_id"], number="5002", name="Jansen", kvk="87654321")
        s.add_all([known, by_kvk])
        s.flush()
        site = Site(
            tenant_id=shop["tenant_id"],
            name="Bouwplaats Zeist",
            customer_id=known.id,
            street="Dorpsweg  12",
            postal_code="3456cd",
            city="Zeist",
        )
        s.add(site)
        s.flush()
        known_id, kvk_id, site_id = known.id, by_kvk.id, site.id
    mixed = payload()
    mixed["customer"] = {**mixed["customer"], "email": "Info@DeVries.Example", "kvk": None}
    r = deliver(client, shop["secret"], mixed)
    assert r.json()["customer_id"] == known_id
    with factory() as s:
        order = s.get(Order, r.json()["order_id"])
        assert order is not None and order.site_id == site_id
        assert not order.needs_review and order.review_reasons == []
    other = payload("1002")
    other["customer"] = {**other["customer"], "email": "orders@jansen.example", "kvk": "87654321"}
    r = deliver(client, shop["secret"], other, webhook_id="msg_2")
    assert r.json()["customer_id"] == kvk_id
    assert counts(factory)[1] == 2  # nobody new
    assert counts(factory)[2] == 2  # a new site for Jansen


def test_an_unknown_material_is_taken_in_and_flagged(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    r = deliver(client, shop["secret"], payload(material_code="GIPS"))
    assert r.status_code == 201
    with factory() as s:
        order = s.get(Order, r.json()["order_id"])
        assert order is not None and order.material_id is None
        assert order.material == "GIPS"
        assert order.needs_review
        assert any("unknown material code 'GIPS'" in reason for reason in order.review_reasons)


def test_a_rotated_secret_keeps_working_for_a_day(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    old = shop["secret"]
    with transaction(factory) as s:
        new = service.rotate_secret(s, tenant_id=shop["tenant_id"], now=utcnow())
    assert new != old
    assert deliver(client, old, payload("1"), webhook_id="m1").status_code == 201
    assert deliver(client, new, payload("2"), webhook_id="m2").status_code == 201
    # Both signatures in one header, as a sender signs during a rotation.
    raw = json.dumps(payload("3")).encode()
    headers = signed(raw, new, webhook_id="m3")
    headers["webhook-signature"] += " " + signed(raw, old, webhook_id="m3")["webhook-signature"]
    assert client.post(URL.format(slug="acme"), content=raw, headers=headers).status_code == 201
    with transaction(factory) as s:
        s.execute(
            text("UPDATE webhook_secrets SET expires_at = :t WHERE expires_at IS NOT NULL"),
            {"t": (utcnow() - timedelta(seconds=1)).replace(tzinfo=None)},
        )
    assert deliver(client, old, payload("4"), webhook_id="m4").status_code == 401
    assert deliver(client, new, payload("5"), webhook_id="m5").status_code == 201


def test_the_json_schema_comes_from_the_model(client: TestClient) -> None:
    schema = client.get("/api/v1/intake/webshop/schema").json()
    assert schema["title"] == "WebshopOrder"
    assert {"shop_order_id", "customer", "site", "order_type"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_the_middleware_leaves_the_raw_body_to_the_route(
    client: TestClient, shop: dict[str, Any]
) -> None:
    # Odd but valid JSON formatting: verification must see these exact bytes.
    raw = json.dumps(payload(), indent=3, ensure_ascii=True).encode() + b"\n\n"
    r = client.post(URL.format(slug="acme"), content=raw, headers=signed(raw, shop["secret"]))
    assert r.status_code == 201, r.text


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OMS_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_prints_the_secret_on_its_last_line_and_rotates(
    cli_env: None, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    runner = CliRunner()
    first = runner.invoke(webhook_cli, ["secret", "--tenant", "acme"])
    assert first.exit_code == 0, first.output
    assert first.output.strip().splitlines()[-1] == shop["secret"]
    rotated = runner.invoke(webhook_cli, ["secret", "--tenant", "acme", "--rotate"])
    new = rotated.output.strip().splitlines()[-1]
    assert new.startswith("whsec_") and new != shop["secret"]
    again = runner.invoke(webhook_cli, ["secret", "--tenant", "acme"])
    assert again.output.strip().splitlines()[-1] == new
    with factory() as s:
        rows = s.scalars(
            select(WebhookSecret).where(WebhookSecret.tenant_id == shop["tenant_id"])
        ).all()
        expiry = {r.secret: r.expires_at for r in rows}
    assert expiry[new] is None
    old_expiry = expiry[shop["secret"]]
    assert old_expiry is not None
    assert timedelta(hours=23) < old_expiry - utcnow() <= timedelta(hours=24)
    missing = runner.invoke(webhook_cli, ["secret", "--tenant", "nope"])
    assert missing.exit_code == 1


def test_cli_makes_a_secret_when_there_is_none(
    cli_env: None, factory: sessionmaker[Session]
) -> None:
    with transaction(factory) as s:
        create_tenant(s, slug="fresh", name="Fresh B.V.")
    out = CliRunner().invoke(webhook_cli, ["secret", "--tenant", "fresh"])
    assert out.exit_code == 0, out.output
    secret = out.output.strip().splitlines()[-1]
    assert len(webhooks.secret_key(secret)) == 32


# -- two deliveries at once (PostgreSQL: real row locks) --------------------------------------


def _wait_for_lock_wait(factory: sessionmaker[Session], timeout: float = 10.0) -> None:
    """Until some backend waits for a lock (the second delivery is blocked)."""
    deadline = time.monotonic() + timeout
    with factory() as s:
        while time.monotonic() < deadline:
            waiting = s.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            s.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second delivery never waited for the first")


@pytest.mark.parametrize("same_webhook_id", [True, False])
def test_concurrent_deliveries_make_one_order(pg_url: str, same_webhook_id: bool) -> None:
    from cloud.db import make_engine, make_sessionmaker

    engine = make_engine(pg_url, pool_size=4)
    factory = make_sessionmaker(engine)
    try:
        with transaction(factory) as s:
            tenant_id = create_tenant(s, slug="acme", name="Acme").id
            secret = service.ensure_secret(s, tenant_id=tenant_id)
        raw = json.dumps(payload()).encode()

        def receive(session: Session, webhook_id: str) -> service.Answer:
            h = signed(raw, secret, webhook_id=webhook_id)
            return service.receive_webshop_delivery(
                session,
                tenant_slug="acme",
                headers=service.DeliveryHeaders(
                    h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"]
                ),
                body=raw,
                now=utcnow(),
            )

        first_session = factory()
        first = receive(first_session, "msg_1")
        result: dict[str, Any] = {}

        def second() -> None:
            with transaction(factory) as s:
                result["answer"] = receive(s, "msg_1" if same_webhook_id else "msg_2")

        thread = threading.Thread(target=second)
        thread.start()
        _wait_for_lock_wait(factory)
        first_session.commit()
        first_session.close()
        thread.join(timeout=30)
        assert not thread.is_alive()
        answer = result["answer"]
        assert answer.status_code == 201
        expected = first.body if same_webhook_id else {**first.body, "created": False}
        assert answer.body == expected
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(Order)) == 1
            assert s.scalar(select(func.count()).select_from(Customer)) == 1
            deliveries = s.scalar(select(func.count()).select_from(WebhookDelivery))
            assert deliveries == (1 if same_webhook_id else 2)
    finally:
        engine.dispose()


def test_requested_date_is_a_plain_date() -> None:
    body = payload(requested_date="2026-13-01")
    from pydantic import ValidationError

    from cloud.intake.schemas import WebshopOrder

    with pytest.raises(ValidationError):
        WebshopOrder.model_validate(body)
    assert WebshopOrder.model_validate(payload(requested_date="2027-01-04")).requested_date == date(
        2027, 1, 4
    )


def test_a_refused_body_can_be_sent_again_correctly_under_the_same_id(
    client: TestClient, shop: dict[str, Any]
) -> None:
    bad = deliver(client, shop["secret"], payload(order_type="teleport"))
    assert bad.status_code == 422
    good = deliver(client, shop["secret"], payload())
    assert good.status_code == 201 and good.json()["created"] is True
