"""Recurring schedules: each makes an order on every matching day, ``days_ahead`` days in
advance. An order's ``source_ref`` is ``schedule:<id>:<date>``, so a run repeated (or two
runs at once) never makes one twice. Plain functions; they never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy.orm import Session

from cloud.audit import service as audit
from cloud.containers.models import Container
from cloud.customers.models import Customer, Site
from cloud.errors import AppError
from cloud.materials.models import Material
from cloud.orders.models import OrderSource, OrderType
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import create_order_once
from cloud.references import resolve, resolve_optional
from cloud.schedules import repository
from cloud.schedules.errors import InvalidSchedule, ScheduleNotFound
from cloud.schedules.models import Schedule
from cloud.schedules.schemas import (
    REQUIRED_ON_UPDATE,
    ScheduleCreate,
    SchedulePage,
    ScheduleRead,
    ScheduleUpdate,
)

log = structlog.get_logger("cloud.schedules")
ENTITY = "schedule"
FIELDS = tuple(f for f in ScheduleCreate.model_fields)
DEFAULT_TIMEZONE = "Europe/Amsterdam"


def source_ref(schedule_id: int, day: date) -> str:
    return f"schedule:{schedule_id}:{day.isoformat()}"


def occurrences(
    *,
    weekdays: Sequence[int],
    every_n_weeks: int,
    start_date: date,
    until_date: date | None,
    first: date,
    last: date,
) -> list[date]:
    """The days from ``first`` to ``last`` (both included) a schedule makes an order for:
    on one of its ISO ``weekdays``, in a week that is a multiple of ``every_n_weeks`` after
    the week of ``start_date`` (weeks run Monday to Sunday), not before ``start_date`` and
    not after ``until_date``. Plain calendar dates: a change to or from summer time moves
    nothing."""
    begin = max(first, start_date)
    end = min(last, until_date) if until_date is not None else last
    monday = start_date - timedelta(days=start_date.weekday())
    days = set(weekdays)
    out = []
    day = begin
    while day <= end:
        week = (day - monday).days // 7
        if day.isoweekday() in days and week % every_n_weeks == 0:
            out.append(day)
        day += timedelta(days=1)
    return out


# -- managing schedules ----------------------------------------------------------------------


def _check_references(
    session: Session,
    *,
    tenant_id: int,
    customer_id: int,
    site_id: int | None,
    material_id: int | None,
    container_id: int | None,
) -> None:
    """Every id is the tenant's; the site is one of the customer's own (another's: 422 as
    for a site that does not exist)."""
    resolve(session, Customer, field="customer_id", id_=customer_id, tenant_id=tenant_id)
    resolve_optional(
        session, Site, field="site_id", id_=site_id, tenant_id=tenant_id, customer_id=customer_id
    )
    resolve_optional(session, Material, field="material_id", id_=material_id, tenant_id=tenant_id)
    resolve_optional(
        session, Container, field="container_id", id_=container_id, tenant_id=tenant_id
    )


def create_schedule(
    session: Session, *, tenant_id: int, data: ScheduleCreate, by_user_id: int | None = None
) -> Schedule:
    _check_references(
        session,
        tenant_id=tenant_id,
        customer_id=data.customer_id,
        site_id=data.site_id,
        material_id=data.material_id,
        container_id=data.container_id,
    )
    schedule = Schedule(tenant_id=tenant_id, paused=False, **data.model_dump())
    session.add(schedule)
    session.flush()
    audit.record_created(
        session, schedule, FIELDS, tenant_id=tenant_id, entity=ENTITY, by_user_id=by_user_id
    )
    return schedule


def get_schedule(
    session: Session, *, tenant_id: int, schedule_id: int, for_update: bool = False
) -> Schedule:
    schedule = repository.get(
        session, tenant_id=tenant_id, schedule_id=schedule_id, for_update=for_update
    )
    if schedule is None:
        raise ScheduleNotFound(f"schedule {schedule_id} not found")
    return schedule


def update_schedule(
    session: Session,
    *,
    tenant_id: int,
    schedule_id: int,
    data: ScheduleUpdate,
    by_user_id: int | None = None,
) -> Schedule:
    """Change the fields sent (``null`` clears an optional one). Orders already made stay
    as they are; the next run makes the new pattern's."""
    schedule = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id, for_update=True)
    changes = data.model_dump(include=data.model_fields_set)
    for name in REQUIRED_ON_UPDATE:
        if name in changes and changes[name] is None:
            raise InvalidSchedule(f"{name}: cannot be empty")
    start = changes.get("start_date", schedule.start_date)
    until = changes.get("until_date", schedule.until_date)
    if until is not None and until < start:
        raise InvalidSchedule("until_date must not be before start_date")
    _check_references(
        session,
        tenant_id=tenant_id,
        customer_id=schedule.customer_id,
        site_id=changes.get("site_id", schedule.site_id),
        material_id=changes.get("material_id", schedule.material_id),
        container_id=changes.get("container_id", schedule.container_id),
    )
    audit.apply_changes(
        session, schedule, changes, tenant_id=tenant_id, entity=ENTITY, by_user_id=by_user_id
    )
    session.flush()
    return schedule


def set_paused(
    session: Session,
    *,
    tenant_id: int,
    schedule_id: int,
    paused: bool,
    by_user_id: int | None = None,
) -> Schedule:
    """Pause (no orders are made) or resume (the next run catches up from its today)."""
    schedule = get_schedule(session, tenant_id=tenant_id, schedule_id=schedule_id, for_update=True)
    audit.apply_changes(
        session,
        schedule,
        {"paused": paused},
        tenant_id=tenant_id,
        entity=ENTITY,
        by_user_id=by_user_id,
    )
    session.flush()
    return schedule


def list_schedules(
    session: Session,
    *,
    tenant_id: int,
    customer_id: int | None = None,
    paused: bool | None = None,
    after: int | None = None,
    limit: int = 50,
) -> SchedulePage:
    """A filter customer must be the tenant's (422 naming ``customer_id``)."""
    resolve_optional(session, Customer, field="customer_id", id_=customer_id, tenant_id=tenant_id)
    rows = repository.page(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        paused=paused,
        after=after,
        limit=limit,
    )
    items = [ScheduleRead.model_validate(s) for s in rows]
    return SchedulePage(items=items, next_after=items[-1].id if len(items) == limit else None)


# -- running ---------------------------------------------------------------------------------


def tenant_today(timezone: str | None, *, now: datetime) -> date:
    """The calendar day it is at the tenant (its time zone; Amsterdam if unknown)."""
    try:
        zone = ZoneInfo(timezone or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    return now.astimezone(zone).date()


def run_schedules(session: Session, *, tenant_id: int | None, today: date) -> int:
    """Make the orders every active schedule (of one tenant, or all) owes from ``today`` to
    ``today + days_ahead``; returns how many were made. Days already made are skipped, so
    running again (or concurrently) makes nothing twice. A schedule whose references no
    longer hold (its site moved to another customer) is skipped and logged; the rest run."""
    made = 0
    for schedule in repository.due(session, tenant_id=tenant_id, today=today):
        made += _run_one(session, schedule=schedule, today=today)
    return made


def run_for_today(session: Session, *, tenant_id: int | None, now: datetime) -> int:
    """``run_schedules`` with each tenant's own today."""
    return sum(
        run_schedules(session, tenant_id=t.id, today=tenant_today(t.timezone, now=now))
        for t in repository.tenants(session, tenant_id=tenant_id)
    )


def _run_one(session: Session, *, schedule: Schedule, today: date) -> int:
    last = today + timedelta(days=schedule.days_ahead)
    days = occurrences(
        weekdays=schedule.weekdays,
        every_n_weeks=schedule.every_n_weeks,
        start_date=schedule.start_date,
        until_date=schedule.until_date,
        first=today,
        last=last,
    )
    refs = {day: source_ref(schedule.id, day) for day in days}
    have = repository.existing_refs(session, tenant_id=schedule.tenant_id, refs=list(refs.values()))
    made = 0
    for day, ref in refs.items():
        if ref in have:
            continue
        try:
            with session.begin_nested():  # a refusal leaves nothing half-made behind
                _, created = create_order_once(
                    session,
                    tenant_id=schedule.tenant_id,
                    data=_order_data(schedule, day),
                    source=OrderSource.SCHEDULE,
                    source_ref=ref,
                )
        except AppError as exc:
            log.warning(
                "schedules.skipped",
                schedule_id=schedule.id,
                tenant_id=schedule.tenant_id,
                error=type(exc).__name__,
                detail=exc.detail,
            )
            return made
        made += int(created)
    if schedule.generated_until is None or schedule.generated_until < last:
        schedule.generated_until = last
    return made


def _order_data(schedule: Schedule, day: date) -> OrderCreate:
    return OrderCreate(
        customer_id=schedule.customer_id,
        order_type=OrderType(schedule.order_type),
        site_id=schedule.site_id,
        material_id=schedule.material_id,
        container_id=schedule.container_id,
        container_type=schedule.container_type,
        expected_quantity_kg=schedule.expected_quantity_kg,
        requested_date=day,
        reference=schedule.reference,
        notes=schedule.notes,
    )
