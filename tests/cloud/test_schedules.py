"""Recurring schedules: which days they make orders for, running twice makes nothing twice,
paused schedules make nothing, and the API and CLI around them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cloud.customers.models import Customer, Site
from cloud.db import transaction
from cloud.entrypoints.app import create_app
from cloud.entrypoints.schedules_cli import app as schedules_cli
from cloud.materials.models import Material
from cloud.orders.models import Order
from cloud.schedules import service
from cloud.schedules.schemas import ScheduleCreate
from cloud.settings import Settings, get_settings
from cloud.tenancy.service import create_tenant, create_user, issue_token

MON, TUE, WED, THU, FRI, SAT, SUN = range(1, 8)


def days(**kw: Any) -> list[date]:
    defaults: dict[str, Any] = {"every_n_weeks": 1, "until_date": None}
    return service.occurrences(**{**defaults, **kw})


# -- which days, without a database --------------------------------------------------------


def test_weekly_on_given_days() -> None:
    got = days(
        weekdays=[MON, THU],
        start_date=date(2026, 11, 2),
        first=date(2026, 11, 2),
        last=date(2026, 11, 15),
    )
    assert got == [date(2026, 11, 2), date(2026, 11, 5), date(2026, 11, 9), date(2026, 11, 12)]


def test_every_two_weeks_counts_from_the_monday_of_the_start_week() -> None:
    # Start on a Wednesday: the Monday and Tuesday of that week are before the start, the
    # Thursday is in it; the next week is skipped; the one after counts again.
    got = days(
        weekdays=[MON, THU],
        every_n_weeks=2,
        start_date=date(2026, 11, 4),
        first=date(2026, 11, 1),
        last=date(2026, 11, 30),
    )
    assert got == [date(2026, 11, 5), date(2026, 11, 16), date(2026, 11, 19), date(2026, 11, 30)]


def test_every_three_weeks_far_from_the_start() -> None:
    got = days(
        weekdays=[FRI],
        every_n_weeks=3,
        start_date=date(2026, 1, 5),
        first=date(2026, 12, 1),
        last=date(2026, 12, 31),
    )
    # 2026-01-09 is the first Friday; every 21 days after it: 336 days on is 11 December,
    # the next one is 1 January.
    assert got == [date(2026, 12, 11)]
    assert all((d - date(2026, 1, 9)).days % 21 == 0 for d in got)


@pytest.mark.parametrize(
    ("first", "switch"),
    [(date(2026, 10, 19), date(2026, 10, 25)), (date(2026, 3, 23), date(2026, 3, 29))],
    ids=["autumn", "spring"],
)
def test_a_dst_week_has_seven_days_like_any_other(first: date, switch: date) -> None:
    """The clocks change on the last Sunday of March and October (Europe/Amsterdam); a
    schedule on plain dates neither skips nor doubles a day."""
    got = days(
        weekdays=[1, 2, 3, 4, 5, 6, 7],
        start_date=first,
        first=first,
        last=first + timedelta(days=13),
    )
    assert got == [first + timedelta(days=i) for i in range(14)]
    assert switch in got
    sundays = days(weekdays=[SUN], start_date=first, first=first, last=first + timedelta(days=13))
    assert sundays == [switch, switch + timedelta(days=7)]


def test_until_date_and_start_date_bound_the_days() -> None:
    got = days(
        weekdays=[TUE],
        start_date=date(2026, 11, 10),
        until_date=date(2026, 11, 24),
        first=date(2026, 11, 1),
        last=date(2026, 12, 31),
    )
    assert got == [date(2026, 11, 10), date(2026, 11, 17), date(2026, 11, 24)]


def test_tenant_today_uses_the_tenants_clock() -> None:
    late = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)  # 00:30 on the 25th in Amsterdam (CEST)
    assert service.tenant_today("Europe/Amsterdam", now=late) == date(2026, 10, 25)
    assert service.tenant_today("UTC", now=late) == date(2026, 10, 24)
    assert service.tenant_today("Not/AZone", now=late) == date(2026, 10, 25)


def test_until_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="until_date"):
        ScheduleCreate(
            customer_id=1,
            order_type="container_exchange",
            weekdays=[MON],
            start_date=date(2026, 11, 2),
            until_date=date(2026, 11, 1),
        )


# -- running against the database --------------------------------------------------------


@dataclass
class Setup:
    tenant_id: int
    customer_id: int
    site_id: int
    other_customer_id: int
    other_site_id: int
    material_id: int
    office_token: str
    driver_token: str
    customer_token: str


@pytest.fixture
def setup(factory: sessionmaker[Session]) -> Setup:
    with transaction(factory) as s:
        tenant = create_tenant(s, slug="acme", name="Acme B.V.")
        a = Customer(tenant_id=tenant.id, number="1001", name="Bakkerij Jansen")
        b = Customer(tenant_id=tenant.id, number="1002", name="Garage Smit")
        s.add_all([a, b])
        s.flush()
        site_a = Site(tenant_id=tenant.id, name="Bakkerij", customer_id=a.id)
        site_b = Site(tenant_id=tenant.id, name="Garage", customer_id=b.id)
        material = Material(tenant_id=tenant.id, code="GFT", description="Groente, fruit, tuin")
        s.add_all([site_a, site_b, material])
        s.flush()
        tokens = []
        for role, customer_id in (("planner", None), ("driver", None), ("customer", a.id)):
            user = create_user(
                s,
                tenant_id=tenant.id,
                email=f"{role}@acme.example",
                name=role,
                password="secret-pw-123",
                roles=[role],
                customer_id=customer_id,
            )
            tokens.append(issue_token(s, user_id=user.id, ttl=timedelta(hours=1))[0])
        return Setup(tenant.id, a.id, site_a.id, b.id, site_b.id, material.id, *tokens)


def make(session: Session, setup: Setup, **kw: Any) -> int:
    data = {
        "customer_id": setup.customer_id,
        "site_id": setup.site_id,
        "order_type": "container_exchange",
        "material_id": setup.material_id,
        "weekdays": [MON, THU],
        "start_date": date(2026, 10, 19),
        "days_ahead": 14,
        **kw,
    }
    return service.create_schedule(
        session, tenant_id=setup.tenant_id, data=ScheduleCreate(**data)
    ).id


def schedule_orders(session: Session, schedule_id: int) -> list[Order]:
    return list(
        session.scalars(
            select(Order)
            .where(Order.source_ref.like(f"schedule:{schedule_id}:%"))
            .order_by(Order.requested_date)
        )
    )


def test_a_run_makes_the_days_ahead_once(factory: sessionmaker[Session], setup: Setup) -> None:
    today = date(2026, 10, 19)  # a Monday, the week the clocks go back
    with transaction(factory) as s:
        sid = make(s, setup, expected_quantity_kg="1200.5", reference="REF-9")
        assert service.run_schedules(s, tenant_id=setup.tenant_id, today=today) == 5
    with transaction(factory) as s:
        assert service.run_schedules(s, tenant_id=setup.tenant_id, today=today) == 0
        assert service.run_schedules(s, tenant_id=None, today=today) == 0
        orders = schedule_orders(s, sid)
    assert [o.requested_date for o in orders] == [
        date(2026, 10, 19),
        date(2026, 10, 22),
        date(2026, 10, 26),
        date(2026, 10, 29),
        date(2026, 11, 2),
    ]
    first = orders[0]
    assert first.source == "schedule"
    assert first.source_ref == f"schedule:{sid}:2026-10-19"
    assert first.customer_id == setup.customer_id and first.site_id == setup.site_id
    assert first.material_id == setup.material_id
    assert str(first.expected_quantity_kg) == "1200.5" and first.reference == "REF-9"
    # A day later the horizon moves one day: the Thursday two weeks on is not yet due.
    with transaction(factory) as s:
        assert service.run_schedules(s, tenant_id=setup.tenant_id, today=today + timedelta(3)) == 1
        assert schedule_orders(s, sid)[-1].requested_date == date(2026, 11, 5)


def test_every_two_weeks_until_a_date(factory: sessionmaker[Session], setup: Setup) -> None:
    with transaction(factory) as s:
        sid = make(
            s,
            setup,
            weekdays=[WED],
            every_n_weeks=2,
            start_date=date(2026, 11, 2),
            until_date=date(2026, 12, 16),
            days_ahead=60,
        )
        made = service.run_schedules(s, tenant_id=setup.tenant_id, today=date(2026, 11, 1))
        dates = [o.requested_date for o in schedule_orders(s, sid)]
    assert made == 4
    assert dates == [date(2026, 11, 4), date(2026, 11, 18), date(2026, 12, 2), date(2026, 12, 16)]


def test_paused_schedules_make_nothing_until_resumed(
    factory: sessionmaker[Session], setup: Setup
) -> None:
    today = date(2026, 10, 19)
    with transaction(factory) as s:
        sid = make(s, setup)
        service.set_paused(s, tenant_id=setup.tenant_id, schedule_id=sid, paused=True)
        assert service.run_schedules(s, tenant_id=setup.tenant_id, today=today) == 0
        service.set_paused(s, tenant_id=setup.tenant_id, schedule_id=sid, paused=False)
        assert service.run_schedules(s, tenant_id=setup.tenant_id, today=today) == 5


def test_a_schedule_whose_site_moved_is_skipped_not_fatal(
    factory: sessionmaker[Session], setup: Setup
) -> None:
    today = date(2026, 10, 19)
    with transaction(factory) as s:
        broken = make(s, setup)
        fine = make(s, setup, weekdays=[TUE])
        site = s.get(Site, setup.site_id)
        assert site is not None
        # The site is handed to another customer after the schedule was made.
        extra = Site(tenant_id=setup.tenant_id, name="Second", customer_id=setup.customer_id)
        s.add(extra)
        s.flush()
        s.get(service.Schedule, fine).site_id = extra.id  # type: ignore[union-attr]
        site.customer_id = setup.other_customer_id
        assert service.run_schedules(s, tenant_id=setup.tenant_id, today=today) == 2
        assert schedule_orders(s, broken) == []


# -- the API ---------------------------------------------------------------------------------


@pytest.fixture
def client(factory: sessionmaker[Session], db_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(environment="test", database_url=db_url), factory)
    with TestClient(app) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(setup: Setup, **kw: Any) -> dict[str, Any]:
    return {
        "customer_id": setup.customer_id,
        "site_id": setup.site_id,
        "order_type": "container_exchange",
        "material_id": setup.material_id,
        "weekdays": [4, 1, 1],
        "every_n_weeks": 1,
        "start_date": "2026-10-19",
        "days_ahead": 7,
        **kw,
    }


def test_api_create_update_pause_resume(client: TestClient, setup: Setup) -> None:
    h = auth(setup.office_token)
    r = client.post("/api/v1/schedules", json=body(setup), headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["weekdays"] == [1, 4] and created["paused"] is False
    sid = created["id"]
    r = client.patch(
        f"/api/v1/schedules/{sid}", json={"every_n_weeks": 2, "until_date": "2027-06-30"}, headers=h
    )
    assert r.status_code == 200 and r.json()["every_n_weeks"] == 2
    r = client.patch(f"/api/v1/schedules/{sid}", json={"until_date": "2026-01-01"}, headers=h)
    assert r.status_code == 422 and r.json()["error"] == "InvalidSchedule"
    r = client.patch(f"/api/v1/schedules/{sid}", json={"weekdays": None}, headers=h)
    assert r.status_code == 422
    assert client.post(f"/api/v1/schedules/{sid}/pause", headers=h).json()["paused"] is True
    assert client.post(f"/api/v1/schedules/{sid}/resume", headers=h).json()["paused"] is False
    page = client.get("/api/v1/schedules", headers=h).json()
    assert [s["id"] for s in page["items"]] == [sid]
    assert client.get(f"/api/v1/schedules/{sid}", headers=h).json()["every_n_weeks"] == 2


def test_api_refuses_another_customers_site_and_bad_values(
    client: TestClient, setup: Setup
) -> None:
    h = auth(setup.office_token)
    r = client.post("/api/v1/schedules", json=body(setup, site_id=setup.other_site_id), headers=h)
    assert r.status_code == 422 and "site_id" in r.json()["detail"]
    missing = client.post("/api/v1/schedules", json=body(setup, site_id=999_999), headers=h)
    assert (
        missing.json()["detail"].replace("999999", str(setup.other_site_id)) == r.json()["detail"]
    )
    for bad in (
        {"weekdays": [0]},
        {"weekdays": [8]},
        {"weekdays": []},
        {"every_n_weeks": 0},
        {"every_n_weeks": 53},
        {"days_ahead": 0},
        {"days_ahead": 61},
        {"until_date": "2026-10-18"},
        {"paused": True},
        {"tenant_id": 2},
    ):
        r = client.post("/api/v1/schedules", json=body(setup, **bad), headers=h)
        assert r.status_code == 422, bad


def test_api_run_makes_the_orders_once(client: TestClient, setup: Setup) -> None:
    h = auth(setup.office_token)
    start = datetime.now(UTC).date()
    client.post(
        "/api/v1/schedules",
        json=body(setup, weekdays=[1, 2, 3, 4, 5, 6, 7], start_date=start.isoformat()),
        headers=h,
    )
    first = client.post("/api/v1/schedules/run", headers=h).json()["created"]
    assert first in (8, 9)  # today + 7 days ahead (8), or 9 when the tenant's day is ahead
    assert client.post("/api/v1/schedules/run", headers=h).json() == {"created": 0}
    orders = client.get("/api/v1/orders", headers=h).json()["items"]
    assert len(orders) == first and {o["source"] for o in orders} == {"schedule"}


def test_api_permissions(client: TestClient, setup: Setup) -> None:
    for token in (setup.driver_token, setup.customer_token):
        assert client.get("/api/v1/schedules", headers=auth(token)).status_code == 403
        assert (
            client.post("/api/v1/schedules", json=body(setup), headers=auth(token)).status_code
            == 403
        )
        assert client.post("/api/v1/schedules/run", headers=auth(token)).status_code == 403


def test_another_tenants_schedule_is_not_found(
    client: TestClient, factory: sessionmaker[Session], setup: Setup
) -> None:
    with transaction(factory) as s:
        sid = make(s, setup)
        other = create_tenant(s, slug="globex", name="Globex")
        user = create_user(
            s,
            tenant_id=other.id,
            email="planner@globex.example",
            name="P",
            password="secret-pw-123",
            roles=["planner"],
        )
        token = issue_token(s, user_id=user.id, ttl=None)[0]
    h = auth(token)
    assert client.get(f"/api/v1/schedules/{sid}", headers=h).status_code == 404
    assert (
        client.patch(f"/api/v1/schedules/{sid}", json={"days_ahead": 3}, headers=h).status_code
        == 404
    )
    assert client.post(f"/api/v1/schedules/{sid}/pause", headers=h).status_code == 404
    assert client.get("/api/v1/schedules", headers=h).json()["items"] == []
    # and its customer is unknown here (422 naming the field)
    r = client.post("/api/v1/schedules", json=body(setup), headers=h)
    assert r.status_code == 422 and "customer_id" in r.json()["detail"]


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_run_prints_how_many(
    db_url: str, monkeypatch: pytest.MonkeyPatch, factory: sessionmaker[Session], setup: Setup
) -> None:
    with transaction(factory) as s:
        make(s, setup)
    monkeypatch.setenv("OMS_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = runner.invoke(schedules_cli, ["run", "--tenant", "acme", "--today", "2026-10-19"])
        assert out.exit_code == 0, out.output
        assert out.output.strip().splitlines()[-1] == "orders made: 5"
        again = runner.invoke(schedules_cli, ["run", "--today", "2026-10-19"])
        assert again.output.strip().splitlines()[-1] == "orders made: 0"
        assert runner.invoke(schedules_cli, ["run", "--today", "19-10-2026"]).exit_code == 2
        assert runner.invoke(schedules_cli, ["run", "--tenant", "nope"]).exit_code == 1
    finally:
        get_settings.cache_clear()
