"""Containers: master data (audited) and where each one stands, kept up to date by the
orders that move them. Never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from cloud.audit import service as audit
from cloud.audit.models import FieldChange
from cloud.containers import repository
from cloud.containers.errors import ContainerExists, ContainerLocationInvalid, ContainerNotFound
from cloud.containers.models import Container
from cloud.containers.schemas import ContainerCreate, ContainerRead, ContainerUpdate
from cloud.crud import Entity, merged_state
from cloud.customers.models import Site
from cloud.db import utcnow
from cloud.fleet.models import Vehicle
from cloud.references import resolve, resolve_optional

CONTAINER = "container"
"""Entity name in the audit trail."""
CONTAINERS = Entity(Container, entity=CONTAINER, what="container", not_found=ContainerNotFound)

YARD_SITE_KINDS = ("own_yard", "weighbridge")
PLACE, EXCHANGE, COLLECT = "container_place", "container_exchange", "container_collect"
"""The order types that move containers (``cloud.orders.models.OrderType`` values)."""


class Order(Protocol):
    """What moving containers reads of an order (``cloud.orders.models.Order``; not imported,
    so that orders may call containers without an import loop)."""

    @property
    def id(self) -> int: ...
    @property
    def tenant_id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def order_type(self) -> str: ...
    @property
    def container_id(self) -> int | None: ...
    @property
    def site_id(self) -> int | None: ...
    @property
    def vehicle_id(self) -> int | None: ...


LOCATION_FIELDS = ("location_kind", "site_id", "vehicle_id")


def _check_location(
    session: Session, *, tenant_id: int, state: Mapping[str, Any], changed: Set[str]
) -> None:
    kind, site_id, vehicle_id = state["location_kind"], state["site_id"], state["vehicle_id"]
    if kind in ("site", "yard") and vehicle_id is not None:
        raise ContainerLocationInvalid(
            f"vehicle_id: a container at location {kind} is on no vehicle"
        )
    if kind in ("vehicle", "unknown") and site_id is not None:
        raise ContainerLocationInvalid(f"site_id: a container at location {kind} is at no site")
    if kind == "unknown" and vehicle_id is not None:
        raise ContainerLocationInvalid(
            "vehicle_id: a container at location unknown is on no vehicle"
        )
    if kind == "site" and site_id is None:
        raise ContainerLocationInvalid("site_id: location site needs the site_id")
    if kind == "vehicle" and vehicle_id is None:
        raise ContainerLocationInvalid("vehicle_id: location vehicle needs the vehicle_id")
    if site_id is not None and changed & {"site_id", "location_kind"}:
        site = resolve(session, Site, field="site_id", id_=site_id, tenant_id=tenant_id)
        if kind == "yard" and site.kind not in YARD_SITE_KINDS:
            raise ContainerLocationInvalid(
                f"site_id: site {site.name} is a {site.kind}, not our own yard or weighbridge"
            )
    if vehicle_id is not None and "vehicle_id" in changed:
        resolve(session, Vehicle, field="vehicle_id", id_=vehicle_id, tenant_id=tenant_id)


def _check_unique(
    session: Session, *, tenant_id: int, state: Mapping[str, Any], container_id: int | None
) -> None:
    same = repository.with_number(session, tenant_id=tenant_id, number=state["number"])
    if same is not None and same.id != container_id:
        raise ContainerExists(f"number: container {state['number']} exists (id {same.id})")
    if state["rfid_tag"] is not None:
        tagged = repository.with_tag(session, tenant_id=tenant_id, rfid_tag=state["rfid_tag"])
        if tagged is not None and tagged.id != container_id:
            raise ContainerExists(
                f"rfid_tag: tag {state['rfid_tag']} is on container {tagged.number}"
            )


def create_container(
    session: Session, *, tenant_id: int, data: ContainerCreate, by_user_id: int | None
) -> Container:
    state = data.model_dump()
    _check_location(session, tenant_id=tenant_id, state=state, changed=set(state))
    _check_unique(session, tenant_id=tenant_id, state=state, container_id=None)
    if state["located_since"] is None and state["location_kind"] != "unknown":
        state["located_since"] = utcnow()
    container = Container(tenant_id=tenant_id, **state)
    return CONTAINERS.add(session, container, state, tenant_id=tenant_id, by_user_id=by_user_id)


def get_container(session: Session, *, tenant_id: int, container_id: int) -> Container:
    return CONTAINERS.get(session, tenant_id=tenant_id, id_=container_id)


def update_container(
    session: Session,
    *,
    tenant_id: int,
    container_id: int,
    data: ContainerUpdate,
    by_user_id: int | None,
    reason: str | None = None,
) -> Container:
    """Change the fields sent. A new ``location_kind`` clears the ``site_id``/``vehicle_id``
    not sent with it; a move sets ``located_since`` to now unless it is sent."""
    container = get_container(session, tenant_id=tenant_id, container_id=container_id)
    changes = data.model_dump(exclude_unset=True)
    if "location_kind" in changes:
        for field in ("site_id", "vehicle_id"):
            changes.setdefault(field, None)
    state = merged_state(container, ContainerCreate, changes)
    _check_location(session, tenant_id=tenant_id, state=state, changed=set(changes))
    _check_unique(session, tenant_id=tenant_id, state=state, container_id=container.id)
    moved = any(f in changes and changes[f] != getattr(container, f) for f in LOCATION_FIELDS)
    if moved and "located_since" not in changes:
        changes["located_since"] = None if state["location_kind"] == "unknown" else utcnow()
    return CONTAINERS.change(
        session, container, changes, tenant_id=tenant_id, by_user_id=by_user_id, reason=reason
    )


def list_containers(
    session: Session,
    *,
    tenant_id: int,
    after: int | None = None,
    limit: int = 50,
    q: str | None = None,
    active: bool | None = None,
    site_id: int | None = None,
    vehicle_id: int | None = None,
    location_kind: str | None = None,
) -> tuple[list[Container], int | None]:
    """A page of containers by id (``site_id``: what stands at that site now), and the
    ``after`` of the next page (None: the last). Filter ids must be the tenant's (422)."""
    resolve_optional(session, Site, field="site_id", id_=site_id, tenant_id=tenant_id)
    resolve_optional(session, Vehicle, field="vehicle_id", id_=vehicle_id, tenant_id=tenant_id)
    return CONTAINERS.page(
        session,
        tenant_id=tenant_id,
        after=after,
        limit=limit,
        search=repository.search(q),
        active=active,
        filters={"site_id": site_id, "vehicle_id": vehicle_id, "location_kind": location_kind},
    )


def containers_read(containers: Sequence[Container]) -> list[ContainerRead]:
    return [ContainerRead.model_validate(c) for c in containers]


def container_history(session: Session, *, tenant_id: int, container_id: int) -> list[FieldChange]:
    return CONTAINERS.history(session, tenant_id=tenant_id, id_=container_id)


# --- moves by orders ---------------------------------------------------------------------


class _Move:
    """Moving containers for one order: names for messages, one audited change per move."""

    def __init__(self, session: Session, order: Order, at: datetime) -> None:
        self.session, self.order, self.at = session, order, at
        self.reasons: list[str] = []

    def site(self, site_id: int) -> str:
        name = repository.site_name(self.session, tenant_id=self.order.tenant_id, site_id=site_id)
        return f"site {name or site_id}"

    def vehicle(self, vehicle_id: int) -> str:
        plate = repository.vehicle_plate(
            self.session, tenant_id=self.order.tenant_id, vehicle_id=vehicle_id
        )
        return f"vehicle {plate or vehicle_id}"

    def where(self, c: Container) -> str:
        if c.location_kind == "site" and c.site_id is not None:
            return self.site(c.site_id)
        if c.location_kind == "vehicle" and c.vehicle_id is not None:
            return self.vehicle(c.vehicle_id)
        if c.location_kind == "yard":
            return "the yard"
        return "an unknown place"

    def flag(self, reason: str) -> None:
        self.reasons.append(reason)

    def to(self, c: Container, *, kind: str, site_id: int | None, vehicle_id: int | None) -> None:
        if not c.is_active:
            self.flag(
                f"container {c.number} is inactive but was moved by order {self.order.number}"
            )
        audit.apply_changes(
            self.session,
            c,
            {
                "location_kind": kind,
                "site_id": site_id,
                "vehicle_id": vehicle_id,
                "located_since": self.at,
                "last_order_id": self.order.id,
            },
            tenant_id=self.order.tenant_id,
            entity=CONTAINER,
            reason=f"order {self.order.number} ({self.order.order_type})",
        )

    def away(self, c: Container) -> None:
        """Collected: onto the order's vehicle, or (no vehicle) back to the yard."""
        if self.order.vehicle_id is not None:
            self.to(c, kind="vehicle", site_id=None, vehicle_id=self.order.vehicle_id)
        else:
            self.to(c, kind="yard", site_id=None, vehicle_id=None)

    def place(self, c: Container, site_id: int) -> None:
        if c.location_kind == "site" and c.site_id == site_id:
            self.flag(f"container {c.number} was already recorded at {self.site(site_id)}")
        elif c.location_kind == "site":
            self.flag(
                f"container {c.number} was recorded at {self.where(c)}, not at the yard or on a "
                f"vehicle, before it was placed at {self.site(site_id)}"
            )
        elif (
            c.location_kind == "vehicle"
            and self.order.vehicle_id is not None
            and c.vehicle_id != self.order.vehicle_id
        ):
            self.flag(
                f"container {c.number} was recorded on {self.where(c)}, not on the order's "
                f"{self.vehicle(self.order.vehicle_id)}"
            )
        self.to(c, kind="site", site_id=site_id, vehicle_id=None)

    def collect(self, c: Container, site_id: int | None) -> None:
        if site_id is not None and not (c.location_kind == "site" and c.site_id == site_id):
            self.flag(
                f"container {c.number} was recorded at {self.where(c)}, not at the order's "
                f"{self.site(site_id)}"
            )
        self.away(c)

    def previous(self, placed: Container, site_id: int) -> Container | None:
        """The container an exchange takes away: the one at the site, or among several the
        one of the placed container's type; when that is ambiguous, none."""
        there = repository.standing_at_site(
            self.session, tenant_id=self.order.tenant_id, site_id=site_id, exclude_id=placed.id
        )
        if len(there) > 1:
            same_type = [c for c in there if c.container_type == placed.container_type]
            if len(same_type) == 1:
                return same_type[0]
            numbers = ", ".join(c.number for c in (same_type or there))
            self.flag(
                f"containers {numbers} were recorded at {self.site(site_id)}: which one the "
                "exchange took away is unknown, none was moved"
            )
            return None
        if not there:
            self.flag(f"no container was recorded at {self.site(site_id)} to take away")
            return None
        return there[0]


def move_for_order(session: Session, *, order: Order, at: datetime) -> list[str]:
    """Record where the order's containers stand once the order is executed: a placement puts
    ``order.container_id`` at ``order.site_id``; a collection takes it onto
    ``order.vehicle_id`` (no vehicle: to the yard); an exchange does both, taking away the
    container recorded at the site before. Returns review reasons for what does not add up
    (the container was recorded elsewhere, the site has several candidates...) and never
    raises on them: what the truck did is a fact. No container on the order: nothing."""
    if order.container_id is None:
        return []
    move = _Move(session, order, at)
    container = CONTAINERS.find(session, tenant_id=order.tenant_id, id_=order.container_id)
    if container is None:
        return [f"container {order.container_id} of order {order.number} does not exist"]
    kind = order.order_type
    if kind in (PLACE, EXCHANGE):
        if order.site_id is None:
            return [f"order {order.number} has no site: container {container.number} was not moved"]
        old = move.previous(container, order.site_id) if kind == EXCHANGE else None
        move.place(container, order.site_id)
        if old is not None:
            move.away(old)
    elif kind == COLLECT:
        move.collect(container, order.site_id)
    session.flush()
    return move.reasons
