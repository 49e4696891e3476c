"""Rendering pages: one Jinja2 environment (autoescaped) over ``cloud/web/templates`` and the
``templates`` folder of each area sub-package, and ``render`` which fills in what every page
needs (user, navigation, language, CSRF token, flash message)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from cloud.permissions import Action
from cloud.web import i18n
from cloud.web.navigation import navigation
from cloud.web.session import CSRF_FIELD, FLASH_COOKIE, PageState, set_cookie, state

HERE = Path(__file__).resolve().parent
loader = FileSystemLoader([str(HERE / "templates")])
env = Environment(
    loader=loader,
    autoescape=select_autoescape(("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def zip_with_labels(values: Any, prefix: str, t: Any) -> list[tuple[str, str]]:
    """``["a", "b"]`` -> ``[("a", t(prefix + "a")), ...]``: choices for ``ui.select``."""
    return [(str(v), t(f"{prefix}{v}")) for v in values]


env.filters["zip_with_labels"] = zip_with_labels


def add_templates(directory: Path) -> None:
    """A sub-package's templates (refer to them as ``<area>/<name>.html``; keep them in a
    folder named after the area so names never collide)."""
    if str(directory) not in loader.searchpath:
        loader.searchpath.append(str(directory))


def label(lang: str, prefix: str, key: str) -> str:
    """``t(prefix + key)``, or ``key`` itself when the catalogue has no such text."""
    text = i18n.lookup(lang, f"{prefix}{key}")
    return text if text is not None else key


CODED_FIELDS = {"order_type": "type.", "source": "source.", "status": "status."}
"""Audited fields whose stored value is a code with a text in the catalogue."""


def audit_value(lang: str, field: str, value: str | None) -> str:
    """A value of the field audit (``FieldChange.old_value``/``new_value``) for people."""
    if value is not None and field in CODED_FIELDS:
        return label(lang, CODED_FIELDS[field], value)
    return i18n.format_stored(value, lang)


def query(request: Request, **changes: Any) -> str:
    """The current URL's query with ``changes`` (None removes a key), e.g. for paging links."""
    params = dict(request.query_params)
    params.pop("lang", None)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return f"?{urlencode(params)}" if params else "?"


def context(request: Request, extra: dict[str, Any]) -> dict[str, Any]:
    page: PageState = state(request)
    lang = page.lang

    def t(key: str, /, **values: object) -> str:
        return i18n.translate(lang, key, **values)

    flash = None
    if page.flash and i18n.lookup(lang, f"flash.{page.flash}") is not None:
        flash = t(f"flash.{page.flash}")
    return {
        "request": request,
        "user": page.user,
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "t": t,
        "num": lambda v, places=None: i18n.format_decimal(v, lang, places),
        "fdate": lambda v: i18n.format_date(v, lang),
        "fdatetime": lambda v: i18n.format_datetime(v, lang),
        "ftime": i18n.format_time,
        "fstored": lambda v: i18n.format_stored(v, lang),
        "faudit": lambda field, v: audit_value(lang, field, v),
        "label": lambda prefix, key: label(lang, prefix, key),
        "csrf_field": CSRF_FIELD,
        "csrf_token": page.csrf_token,
        "flash": flash,
        "nav": navigation(page.user, request.url.path) if page.user else [],
        "can": (lambda a: page.user is not None and page.user.can(Action(a))),
        "query": lambda **kw: query(request, **kw),
        "path": request.url.path,
        **extra,
    }


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HTMLResponse:
    html = env.get_template(template).render(context(request, extra))
    return HTMLResponse(html, status_code=status_code, headers=headers)


def flash(request: Request, response: Response, key: str) -> Response:
    """Show ``flash.<key>`` from the catalogue on the next page rendered."""
    set_cookie(request, response, FLASH_COOKIE, key, max_age=60, samesite="lax")
    return response
