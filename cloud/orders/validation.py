"""The checks a new or changed order passes, with messages a planner understands (422 naming
the field), and the fields derived from master data.

Only what changes is checked (and what depends on it): correcting the reference of an order
executed last year does not fail because its afvalstroomnummer has since expired.

Containers: for a placement or an exchange, ``container_id`` is the container brought to the
site (an exchange takes away whatever stands there: ``cloud.containers.service.
move_for_order``); for a collection it is the container that stands at the site. That one is
refused only when it is *known* to stand elsewhere (at another site); one whose place is the
yard, a vehicle or unknown is accepted, since its recorded place may lag behind the street
(``move_for_order`` records the move, and flags what does not add up, when the order is
executed). The place is checked only while the order is open: after execution the container
has moved on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from cloud.articles.models import Article
from cloud.containers.models import Container
from cloud.customers.models import Customer, Site
from cloud.db import utcnow
from cloud.fleet.models import Vehicle
from cloud.materials.models import Material, WasteStream
from cloud.materials.service import check_waste_stream
from cloud.orders.errors import (
    ContainerElsewhere,
    MaterialConflict,
    OrderDateOutOfRange,
    WindowInverted,
)
from cloud.orders.models import OrderType
from cloud.orders.schemas import OrderLineIn
from cloud.references import UnknownReference, check_customer_scope, resolve

if TYPE_CHECKING:
    from cloud.settings import Settings

ORDER_FIELDS = (
    "customer_id",
    "order_type",
    "site_id",
    "vehicle_id",
    "container_id",
    "material_id",
    "waste_stream_id",
    "material",
    "requested_date",
    "window_start",
    "window_end",
    "container_type",
    "expected_quantity_kg",
    "expected_containers",
    "reference",
    "notes",
)
"""The fields of an order a client sets (and the audit records), in a stable order."""

MATERIAL_TEXT = 100
"""``orders.material``: the material's description is cut to the column."""

AT_A_SITE = frozenset({OrderType.CONTAINER_COLLECT.value})
"""Order types whose container must stand at the order's site."""


class HasDates(Protocol):
    @property
    def requested_date(self) -> date | None: ...
    @property
    def window_start(self) -> datetime | None: ...
    @property
    def window_end(self) -> datetime | None: ...


@dataclass(frozen=True)
class DateBounds:
    """The dates an order may ask for: ``first`` to ``last``, both included."""

    first: date
    last: date

    @classmethod
    def around(cls, today: date, *, min_year: int, max_years_ahead: int) -> DateBounds:
        year = today.year + max_years_ahead
        # 29 February has no counterpart in most years: take the 28th.
        last = today.replace(year=year, day=min(today.day, 28) if today.month == 2 else today.day)
        return cls(first=date(min_year, 1, 1), last=last)

    @classmethod
    def for_settings(cls, settings: Settings, today: date | None = None) -> DateBounds:
        """The bounds the settings give (``order_date_min_year``,
        ``order_date_max_years_ahead``) around ``today`` (default: today in UTC)."""
        return cls.around(
            today or utcnow().date(),
            min_year=settings.order_date_min_year,
            max_years_ahead=settings.order_date_max_years_ahead,
        )

    def check(self, data: HasDates) -> None:
        """Dates are compared in their own time zone: no conversion can overflow first."""
        for field, value in (
            ("requested_date", data.requested_date),
            ("window_start", data.window_start.date() if data.window_start else None),
            ("window_end", data.window_end.date() if data.window_end else None),
        ):
            if value is not None and not self.first <= value <= self.last:
                raise OrderDateOutOfRange(
                    f"{field}: {value.isoformat()} is outside the dates orders can be planned "
                    f"for ({self.first.isoformat()} to {self.last.isoformat()})"
                )


def _plain(value: Any) -> Any:
    """Enum members as their value, times in UTC: what the row stores (and the audit
    compares)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def prepare(
    session: Session,
    *,
    tenant_id: int,
    current: Mapping[str, Any],
    changes: Mapping[str, Any],
    open_order: bool,
    on_default: date,
    mismatches: list[str] | None = None,
) -> dict[str, Any]:
    """Check ``changes`` (field -> new value) to an order whose fields are now ``current``
    (all ``None`` for a new order) and return the changes to apply: the given ones plus the
    derived ones (material text, container type, a material taken from the waste stream).

    ``mismatches``: for intake from a device, where a fact must never be refused for it, a
    site or vehicle of another customer, or a container recorded at another site, is
    appended there (a review reason) instead of raised. Another tenant's row is refused
    either way. ``on_default``: the day the waste stream must be valid on when the order
    names no date."""
    out = {k: _plain(v) for k, v in changes.items()}
    state = {**{f: current.get(f) for f in ORDER_FIELDS}, **out}

    def touched(*names: str) -> bool:
        return any(n in changes for n in names)

    if touched("customer_id"):
        resolve(
            session, Customer, field="customer_id", id_=state["customer_id"], tenant_id=tenant_id
        )
    for field, model in (("site_id", Site), ("vehicle_id", Vehicle)):
        if state[field] is None or not touched(field, "customer_id"):
            continue
        row: Any = resolve(session, model, field=field, id_=state[field], tenant_id=tenant_id)
        try:
            check_customer_scope(
                field=field,
                id_=row.id,
                owner_customer_id=row.customer_id,
                customer_id=state["customer_id"],
            )
        except UnknownReference:
            if mismatches is None:
                raise
            mismatches.append(
                f"{field} {row.id} belongs to customer {row.customer_id}, "
                f"not to the order's customer {state['customer_id']}"
            )

    if touched("waste_stream_id") and state["waste_stream_id"] is not None:
        stream = resolve(
            session,
            WasteStream,
            field="waste_stream_id",
            id_=state["waste_stream_id"],
            tenant_id=tenant_id,
        )
        if state["material_id"] is None:
            out["material_id"] = state["material_id"] = stream.material_id
            changes = {**changes, "material_id": stream.material_id}
    _material(session, tenant_id=tenant_id, current=current, changes=changes, out=out, state=state)
    if state["waste_stream_id"] is not None and touched(
        "waste_stream_id", "customer_id", "material_id", "requested_date", "window_start"
    ):
        window_start = state["window_start"]
        on = state["requested_date"] or (window_start.date() if window_start else on_default)
        check_waste_stream(
            session,
            tenant_id=tenant_id,
            waste_stream_id=state["waste_stream_id"],
            customer_id=state["customer_id"],
            material_id=state["material_id"],
            on=on,
        )

    if state["container_id"] is not None and touched("container_id", "site_id", "order_type"):
        _container(
            session,
            tenant_id=tenant_id,
            changes=changes,
            out=out,
            state=state,
            open_order=open_order,
            mismatches=mismatches,
        )

    if touched("window_start", "window_end"):
        start, end = state["window_start"], state["window_end"]
        if start is not None and end is not None and end <= start:
            raise WindowInverted(
                f"window_end: {end.isoformat()} must be after window_start {start.isoformat()}"
            )
    return out


def _material(
    session: Session,
    *,
    tenant_id: int,
    current: Mapping[str, Any],
    changes: Mapping[str, Any],
    out: dict[str, Any],
    state: dict[str, Any],
) -> None:
    given = changes.get("material")
    if "material_id" in changes:
        if state["material_id"] is None:
            if current.get("material_id") is not None and "material" not in changes:
                out["material"] = state["material"] = None  # the old material's description
            return
        material = resolve(
            session, Material, field="material_id", id_=state["material_id"], tenant_id=tenant_id
        )
        if not material.is_active:
            raise UnknownReference("material_id", material.id, "no longer in use")
        derived = " ".join(material.description.split())[:MATERIAL_TEXT] or None
        if given is not None and " ".join(given.split()).casefold() != (derived or "").casefold():
            raise MaterialConflict(
                f"material: leave it out when material_id is given (the order shows the "
                f"material's description {derived!r})"
            )
        out["material"] = state["material"] = derived
    elif given is not None and state["material_id"] is not None:
        raise MaterialConflict(
            f"material: the order names material_id {state['material_id']}; change or clear "
            "material_id instead"
        )


def _container(
    session: Session,
    *,
    tenant_id: int,
    changes: Mapping[str, Any],
    out: dict[str, Any],
    state: dict[str, Any],
    open_order: bool,
    mismatches: list[str] | None,
) -> None:
    """``mismatches``: as in :func:`prepare` (a container recorded at another site is a
    review reason instead of a refusal)."""
    container = resolve(
        session, Container, field="container_id", id_=state["container_id"], tenant_id=tenant_id
    )
    if "container_id" in changes:
        if not container.is_active:
            raise UnknownReference("container_id", container.id, "no longer in use")
        if changes.get("container_type") is None:
            out["container_type"] = state["container_type"] = container.container_type
    if (
        open_order
        and state["order_type"] in AT_A_SITE
        and state["site_id"] is not None
        and container.location_kind == "site"
        and container.site_id is not None
        and container.site_id != state["site_id"]
    ):
        there = session.get(Site, container.site_id)
        message = (
            f"container_id: container {container.number} stands at "
            f"{there.name if there else 'site'} ({container.site_id}), not at the order's site "
            f"({state['site_id']})"
        )
        if mismatches is None:
            raise ContainerElsewhere(message)
        mismatches.append(message)


def check_lines(session: Session, *, tenant_id: int, lines: Sequence[OrderLineIn]) -> None:
    """Every line's article is an active article of the tenant."""
    for i, line in enumerate(lines):
        field = f"lines[{i}].article_id"
        article = resolve(session, Article, field=field, id_=line.article_id, tenant_id=tenant_id)
        if not article.is_active:
            raise UnknownReference(field, article.id, "no longer in use")
