"""Who is looking at a page: the login cookie, the language, and CSRF protection.

- **Login cookie** ``oms_session``: an API token (``cloud.tenancy.service.login``), so a page
  and the JSON API know one kind of credential, with the same expiry and the same revocation.
  ``HttpOnly`` (no script reads it), ``Secure`` (unless ``settings.web_cookie_secure`` is
  off: every cookie of the pages follows it), ``SameSite=Lax``, path ``/``. Logging out
  revokes the token on the server (``revoke_token``) and deletes the cookie.
- **CSRF**: a double-submit token plus an Origin check. ``oms_csrf`` is a random value in its
  own cookie (``HttpOnly``, ``SameSite=Strict``); every form carries it in the hidden field
  ``csrf_token`` and every htmx request in the header ``X-CSRF-Token`` (set on ``<body>`` with
  ``hx-headers``). A POST (PUT, PATCH, DELETE) is refused with 403 unless the two are equal
  (compared in constant time), and also when it carries an ``Origin`` header of another
  origin (browsers send ``Origin: null`` on form posts under the app's ``Referrer-Policy:
  no-referrer``; that passes the Origin check, never the token check). ``SameSite=Lax`` on
  the login cookie is a third line: a cross-site form POST does not carry it at all.
- **Language**: ``?lang=en`` on any page (stored in the ``oms_lang`` cookie), else that
  cookie, else the user's ``User.locale``, else Dutch.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from cloud.errors import Forbidden, Unauthorized
from cloud.http.deps import DbSession
from cloud.permissions import Action, can, require
from cloud.tenancy.service import Principal, authenticate
from cloud.web import i18n

SESSION_COOKIE = "oms_session"
CSRF_COOKIE = "oms_csrf"
LANG_COOKIE = "oms_lang"
FLASH_COOKIE = "oms_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Unauthorized):
    """No valid login cookie: pages redirect to ``/login``, htmx requests get ``HX-Redirect``."""


class CsrfRefused(Forbidden):
    pass


@dataclass
class WebUser:
    """The logged-in user of a page request."""

    principal: Principal
    name: str
    locale: str

    @property
    def roles(self) -> frozenset[str]:
        return self.principal.roles

    def can(self, action: Action) -> bool:
        return can(self.principal, action)


@dataclass
class PageState:
    """Per request, on ``request.state.web``: what ``render`` needs and which cookies to set."""

    user: WebUser | None = None
    lang: str = i18n.DEFAULT
    csrf_token: str = ""
    set_cookies: dict[str, str] = field(default_factory=dict)
    flash: str | None = None


def state(request: Request) -> PageState:
    current = getattr(request.state, "web", None)
    if current is None:
        current = PageState()
        request.state.web = current
        token = request.cookies.get(CSRF_COOKIE, "")
        if len(token) < 32 or len(token) > 128:
            token = secrets.token_urlsafe(32)
            current.set_cookies[CSRF_COOKIE] = token
        current.csrf_token = token
        current.lang = _language(request, None, current)
        flash = request.cookies.get(FLASH_COOKIE)
        if flash:
            current.flash = flash
            current.set_cookies[FLASH_COOKIE] = ""
    return current


def _language(request: Request, user: WebUser | None, current: PageState) -> str:
    asked = i18n.normalize(request.query_params.get("lang"))
    if asked:
        current.set_cookies[LANG_COOKIE] = asked
        return asked
    return (
        i18n.normalize(request.cookies.get(LANG_COOKIE))
        or (user.locale if user else None)
        or i18n.DEFAULT
    )


def cookies_secure(request: Request) -> bool:
    """``settings.web_cookie_secure``: every cookie of the pages is ``Secure`` unless a
    closed network served over plain HTTP turns it off."""
    settings = getattr(request.app.state, "settings", None)
    return bool(getattr(settings, "web_cookie_secure", True))


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    samesite: Literal["lax", "strict"],
    max_age: int | None = None,
) -> None:
    """One of the pages' cookies: ``HttpOnly``, ``Secure`` by setting, path ``/``."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        secure=cookies_secure(request),
        samesite=samesite,
    )


def delete_cookie(
    request: Request, response: Response, name: str, *, samesite: Literal["lax", "strict"]
) -> None:
    response.delete_cookie(name, httponly=True, secure=cookies_secure(request), samesite=samesite)


def login_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def optional_user(request: Request, session: DbSession) -> WebUser | None:
    """The logged-in user, or None (no cookie, or a token expired, revoked or disabled)."""
    current = state(request)
    if current.user is not None:
        return current.user
    token = login_token(request)
    if token is None or len(token) > 200:
        return None
    try:
        principal = authenticate(session, token=token)
    except Unauthorized:
        return None
    current.user = WebUser(
        principal=principal,
        name=principal.name or principal.email,
        locale=i18n.normalize(principal.locale) or i18n.DEFAULT,
    )
    current.lang = _language(request, current.user, current)
    return current.user


def current_user(user: Annotated[WebUser | None, Depends(optional_user)]) -> WebUser:
    if user is None:
        raise LoginRequired("log in first")
    return user


CurrentWebUser = Annotated[WebUser, Depends(current_user)]


def allowed(action: Action) -> Callable[[WebUser], WebUser]:
    """A dependency for a page: the logged-in user if its roles may do ``action`` (else the
    403 page). ``Annotated[WebUser, Depends(allowed(Action.X))]``."""

    def check(user: CurrentWebUser) -> WebUser:
        require(user.principal, action)
        return user

    check.__name__ = f"page_{action.name.lower()}"
    check.action = action  # type: ignore[attr-defined] # read by the authorization test
    return check


def refuse_before_body(request: Request) -> None:
    """The checks that need no body: another site's ``Origin``, and no ``oms_csrf`` cookie
    at all (a browser that loaded a page of ours always has one). Run before the body is
    read, by ``check_csrf`` and by the web routes ahead of FastAPI's own form parsing, so a
    forged or scripted post costs no parsing."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and not _same_origin(origin, request):
        raise CsrfRefused("a form from another site")
    if not request.cookies.get(CSRF_COOKIE):
        raise CsrfRefused("the form has expired; reload the page and try again")


async def check_csrf(request: Request) -> None:
    """Router dependency of every web router: see the module docstring."""
    if request.method in SAFE_METHODS:
        return
    refuse_before_body(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise CsrfRefused("the form has expired; reload the page and try again")


def _same_origin(origin: str, request: Request) -> bool:
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.netloc == host and parts.scheme in ("http", "https")


def safe_next(target: str | None, default: str) -> str:
    """A redirect target after login: a path on this site only."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
