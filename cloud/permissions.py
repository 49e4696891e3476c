"""Who may do what: roles x actions, as data. The API and the web pages ask ``can`` or
``require``; nothing else decides whether a role may act. What a role may *see* within an
action (a customer its own orders, a driver its vehicle's jobs) is the domain's scope
(``cloud.orders.scope``), not a permission.

Roles (DOMAIN.md): ``owner`` runs the company and manages users; ``planner`` takes in and plans
orders; ``administrator`` keeps master data, reviews and invoices; ``driver`` executes;
``customer`` requests and follows its own orders in the portal."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from cloud.errors import Forbidden


class Role(StrEnum):
    OWNER = "owner"
    PLANNER = "planner"
    ADMINISTRATOR = "administrator"
    DRIVER = "driver"
    CUSTOMER = "customer"


ROLES: tuple[str, ...] = tuple(r.value for r in Role)


class Action(StrEnum):
    # orders
    ORDER_READ = "order.read"
    """List and open orders (scoped: customers their own, drivers their vehicle's)."""
    ORDER_CREATE = "order.create"
    ORDER_UPDATE = "order.update"
    """Change an order before it is executed."""
    ORDER_CORRECT = "order.correct"
    """Change an order after execution (with a reason)."""
    ORDER_CANCEL = "order.cancel"
    ORDER_DISPATCH = "order.dispatch"
    ORDER_REQUEST = "order.request"
    """A customer asks for an order at one of its own sites (portal)."""
    ORDER_AUDIT_READ = "order.audit.read"
    """The field-level change history of an order."""
    # master data
    MASTERDATA_READ = "masterdata.read"
    MASTERDATA_WRITE = "masterdata.write"
    MASTERDATA_IMPORT = "masterdata.import"
    SCHEDULE_READ = "schedule.read"
    SCHEDULE_WRITE = "schedule.write"
    # documents
    DOCUMENT_READ = "document.read"
    DOCUMENT_WRITE = "document.write"
    # fleet and devices
    DEVICE_READ = "device.read"
    DEVICE_MANAGE = "device.manage"
    """Register, rotate, revoke."""
    DEVICE_CONFIG = "device.config"
    """Push the current master data (vehicles, materials) to a device."""
    FLEET_LIVE = "fleet.live"
    """The live stream of device status, weights and job progress."""
    # people and the company
    USER_READ = "user.read"
    USER_MANAGE = "user.manage"
    WEBHOOK_MANAGE = "webhook.manage"
    DEAD_LETTER_READ = "dead_letter.read"


_OFFICE_READ = {
    Action.ORDER_READ,
    Action.ORDER_AUDIT_READ,
    Action.MASTERDATA_READ,
    Action.SCHEDULE_READ,
    Action.DOCUMENT_READ,
    Action.DEVICE_READ,
    Action.FLEET_LIVE,
    Action.DEAD_LETTER_READ,
}

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset(Action) - {Action.ORDER_REQUEST},
    Role.PLANNER: frozenset(
        _OFFICE_READ
        | {
            Action.ORDER_CREATE,
            Action.ORDER_UPDATE,
            Action.ORDER_CANCEL,
            Action.ORDER_DISPATCH,
            Action.DEVICE_CONFIG,
            Action.SCHEDULE_WRITE,
            Action.DOCUMENT_WRITE,
        }
    ),
    Role.ADMINISTRATOR: frozenset(
        _OFFICE_READ
        | {
            Action.ORDER_CREATE,
            Action.ORDER_UPDATE,
            Action.ORDER_CORRECT,
            Action.ORDER_CANCEL,
            Action.MASTERDATA_WRITE,
            Action.MASTERDATA_IMPORT,
            Action.SCHEDULE_WRITE,
            Action.DOCUMENT_WRITE,
            Action.DEVICE_MANAGE,
            Action.DEVICE_CONFIG,
            Action.USER_READ,
        }
    ),
    Role.DRIVER: frozenset({Action.ORDER_READ, Action.DOCUMENT_READ}),
    Role.CUSTOMER: frozenset({Action.ORDER_READ, Action.ORDER_REQUEST, Action.DOCUMENT_READ}),
}
"""The whole matrix. ``tests/security/test_authorization.py`` checks every route against it."""


class HasRoles(Protocol):
    @property
    def roles(self) -> frozenset[str]: ...


class NotAllowed(Forbidden):
    """The caller's roles do not include the action."""


def roles_for(action: Action) -> frozenset[str]:
    return frozenset(r.value for r, actions in PERMISSIONS.items() if action in actions)


def can(who: HasRoles | frozenset[str], action: Action) -> bool:
    roles = who if isinstance(who, frozenset) else who.roles
    return any(action in PERMISSIONS.get(Role(r), frozenset()) for r in roles if r in ROLES)


def require(who: HasRoles, action: Action) -> None:
    if not can(who, action):
        raise NotAllowed(f"{action.value} needs one of the roles {sorted(roles_for(action))}")
