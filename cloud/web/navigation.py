"""The pages of the web front end and what each requires, as data.

``PAGES`` lists every page route (method, path, the ``Action`` it requires, or None for pages
anyone may open, like the login form). The authorization test walks it with every role; a
route of a web router that is not in ``PAGES`` fails ``tests/web/test_pages.py``.

``NAV`` is the menu: an entry shows only to users whose roles may do its action. Area
sub-packages (``cloud.web.masterdata``) add their pages and menu entries with ``register``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cloud.permissions import Action

if TYPE_CHECKING:
    from cloud.web.session import WebUser


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    action: Action | None
    """What the caller's roles must allow; None: open to anyone (login) or any logged-in user
    (``login=True``)."""
    login: bool = True
    """False: reachable without logging in."""
    note: str = ""


@dataclass(frozen=True)
class NavItem:
    key: str
    """The catalogue key of its label."""
    href: str
    action: Action
    order: int = 100


PAGES: list[Page] = [
    Page("GET", "/", None, note="home: redirects by role (portal, orders) or to /login"),
    Page("GET", "/login", None, login=False),
    Page("POST", "/login", None, login=False),
    Page("POST", "/logout", None),
    Page("GET", "/account", None, note="your own account: change your password"),
    Page("POST", "/account/password", None),
    # office: orders
    Page("GET", "/orders", Action.ORDER_READ, note="scoped: customers and drivers see theirs"),
    Page("GET", "/orders/new", Action.ORDER_CREATE),
    Page("POST", "/orders/new", Action.ORDER_CREATE),
    Page("GET", "/orders/form/sites", Action.ORDER_CREATE, note="htmx: sites of a customer"),
    Page(
        "GET",
        "/orders/form/waste-streams",
        Action.ORDER_CREATE,
        note="htmx: afvalstroomnummers for customer, material and date",
    ),
    Page("GET", "/orders/{order_id}", Action.ORDER_READ),
    Page("GET", "/orders/{order_id}/edit", Action.ORDER_UPDATE),
    Page("POST", "/orders/{order_id}/edit", Action.ORDER_UPDATE),
    Page("POST", "/orders/{order_id}/cancel", Action.ORDER_CANCEL),
    # owner: users
    Page("GET", "/users", Action.USER_MANAGE),
    Page("POST", "/users/new", Action.USER_MANAGE),
    Page("POST", "/users/{user_id}/disable", Action.USER_MANAGE),
    Page("POST", "/users/{user_id}/reset-password", Action.USER_MANAGE),
    # customer portal
    Page("GET", "/portal", Action.ORDER_REQUEST),
    Page("GET", "/portal/orders/new", Action.ORDER_REQUEST),
    Page("POST", "/portal/orders/new", Action.ORDER_REQUEST),
    Page("GET", "/portal/orders/{order_id}", Action.ORDER_REQUEST),
    Page("GET", "/portal/orders/{order_id}/documents/{document_id}", Action.ORDER_REQUEST),
]

NAV: list[NavItem] = [
    NavItem("nav.portal", "/portal", Action.ORDER_REQUEST, order=5),
    NavItem("nav.orders", "/orders", Action.ORDER_CREATE, order=10),
    NavItem("nav.new_order", "/orders/new", Action.ORDER_CREATE, order=20),
    NavItem("nav.users", "/users", Action.USER_MANAGE, order=90),
]


def register(pages: list[Page], nav: list[NavItem] = ()) -> None:  # type: ignore[assignment]
    """Add an area's pages and menu entries (idempotent)."""
    for page in pages:
        if page not in PAGES:
            PAGES.append(page)
    for item in nav:
        if item not in NAV:
            NAV.append(item)


@dataclass(frozen=True)
class NavLink:
    key: str
    href: str
    active: bool


def navigation(user: WebUser | None, path: str) -> list[NavLink]:
    if user is None:
        return []
    items = sorted((i for i in NAV if user.can(i.action)), key=lambda i: (i.order, i.href))
    # The longest matching prefix is the active entry (/orders/new beats /orders).
    best = max(
        (i.href for i in items if path == i.href or path.startswith(i.href.rstrip("/") + "/")),
        key=len,
        default=None,
    )
    return [NavLink(i.key, i.href, i.href == best) for i in items]
