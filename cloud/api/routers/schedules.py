"""Recurring schedules: the office sets them up, pauses and resumes them, and can make the
orders they owe now (a timer runs ``oms schedules run`` daily as well). HTTP only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from cloud.api.deps import DbSession, allowed
from cloud.api.params import IdPath, Limit
from cloud.db import utcnow
from cloud.permissions import Action
from cloud.schedules import service
from cloud.schedules.schemas import (
    RunResult,
    ScheduleCreate,
    SchedulePage,
    ScheduleRead,
    ScheduleUpdate,
)
from cloud.tenancy.service import Principal
from cloud.types import MAX_ID

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"])
Reader = Annotated[Principal, Depends(allowed(Action.SCHEDULE_READ))]
Writer = Annotated[Principal, Depends(allowed(Action.SCHEDULE_WRITE))]
After = Annotated[int | None, Query(ge=1, le=MAX_ID, description="last id of the previous page")]
CustomerFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this customer")]


@router.get("", response_model=SchedulePage)
def list_schedules(
    session: DbSession,
    principal: Reader,
    customer_id: CustomerFilter = None,
    paused: bool | None = None,
    after: After = None,
    limit: Limit = 50,
) -> SchedulePage:
    return service.list_schedules(
        session,
        tenant_id=principal.tenant_id,
        customer_id=customer_id,
        paused=paused,
        after=after,
        limit=limit,
    )


@router.post("", response_model=ScheduleRead, status_code=status.HTTP_201_CREATED)
def create_schedule(body: ScheduleCreate, session: DbSession, principal: Writer) -> ScheduleRead:
    """The site must be one of the customer's (else 422 naming ``site_id``)."""
    schedule = service.create_schedule(
        session, tenant_id=principal.tenant_id, data=body, by_user_id=principal.user_id
    )
    return ScheduleRead.model_validate(schedule)


@router.post("/run", response_model=RunResult)
def run_schedules(session: DbSession, principal: Writer) -> RunResult:
    """Make the orders the tenant's schedules owe from today (tenant's time zone) to their
    days ahead. Running again makes nothing twice."""
    made = service.run_for_today(session, tenant_id=principal.tenant_id, now=utcnow())
    return RunResult(created=made)


@router.get("/{schedule_id}", response_model=ScheduleRead)
def get_schedule(schedule_id: IdPath, session: DbSession, principal: Reader) -> ScheduleRead:
    schedule = service.get_schedule(session, tenant_id=principal.tenant_id, schedule_id=schedule_id)
    return ScheduleRead.model_validate(schedule)


@router.patch("/{schedule_id}", response_model=ScheduleRead)
def update_schedule(
    schedule_id: IdPath, body: ScheduleUpdate, session: DbSession, principal: Writer
) -> ScheduleRead:
    schedule = service.update_schedule(
        session,
        tenant_id=principal.tenant_id,
        schedule_id=schedule_id,
        data=body,
        by_user_id=principal.user_id,
    )
    return ScheduleRead.model_validate(schedule)


@router.post("/{schedule_id}/pause", response_model=ScheduleRead)
def pause_schedule(schedule_id: IdPath, session: DbSession, principal: Writer) -> ScheduleRead:
    schedule = service.set_paused(
        session,
        tenant_id=principal.tenant_id,
        schedule_id=schedule_id,
        paused=True,
        by_user_id=principal.user_id,
    )
    return ScheduleRead.model_validate(schedule)


@router.post("/{schedule_id}/resume", response_model=ScheduleRead)
def resume_schedule(schedule_id: IdPath, session: DbSession, principal: Writer) -> ScheduleRead:
    schedule = service.set_paused(
        session,
        tenant_id=principal.tenant_id,
        schedule_id=schedule_id,
        paused=False,
        by_user_id=principal.user_id,
    )
    return ScheduleRead.model_validate(schedule)
