"""The master data screens: for every kind (``entities.KINDS``) a list with search, active
filter and keyset paging, a detail page with the field audit, and the new and edit forms.
The routes are made per kind from the same few functions; every rule is the services'."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import StringConstraints
from sqlalchemy.orm import Session

from cloud.errors import AppError
from cloud.http.deps import DbSession
from cloud.permissions import Action
from cloud.tenancy import service as tenancy
from cloud.types import MAX_ID, DbId, NoNul
from cloud.web.forms import FormData, FormErrors, service_error, translated, validate
from cloud.web.masterdata import display
from cloud.web.masterdata.entities import KINDS, Filters, Kind, load_refs
from cloud.web.masterdata.routing import router
from cloud.web.navigation import Page
from cloud.web.params import WebQuery
from cloud.web.session import WebUser, allowed
from cloud.web.templating import flash, query, render

Reader = Annotated[WebUser, Depends(allowed(Action.MASTERDATA_READ))]
Writer = Annotated[WebUser, Depends(allowed(Action.MASTERDATA_WRITE))]
PAGE_SIZE = 25
MAX_TRAIL = 20
"""Cursors of earlier pages kept in the URL for "previous" (further back: the first page)."""
PAGES: list[Page] = [Page("GET", "/masterdata", Action.MASTERDATA_READ)]
"""This module's pages, for ``cloud.web.navigation.PAGES``."""


class ListQuery(WebQuery):
    """A list's query string (empty fields: no filter)."""

    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), NoNul] | None = None
    active: bool | None = None
    kind: Annotated[str, StringConstraints(max_length=20), NoNul] | None = None
    customer_id: DbId | None = None
    location_kind: Annotated[str, StringConstraints(max_length=10), NoNul] | None = None
    after: Annotated[str, StringConstraints(max_length=200), NoNul] | None = None
    trail: Annotated[str, StringConstraints(max_length=MAX_TRAIL * 201), NoNul] | None = None
    """The cursors of the pages before this one, so "previous" needs nothing stored."""


@router.get("")
def index(request: Request, user: Reader) -> Response:
    return render(request, "masterdata/index.html", kinds=KINDS)


def _pager(
    request: Request, after: str | None, trail: str | None, next_cursor: str | None
) -> tuple[str | None, str | None]:
    earlier = [c for c in (trail or "").split(",") if c][-MAX_TRAIL:]
    next_url = None
    if next_cursor:
        next_url = query(
            request, after=next_cursor, trail=",".join([*earlier, after or "-"][-MAX_TRAIL:])
        )
    prev_url = None
    if after:
        back = earlier[-1] if earlier else "-"
        prev_url = query(
            request, after=None if back == "-" else back, trail=",".join(earlier[:-1]) or None
        )
    return prev_url, next_url


def _people(session: Session, tenant_id: int) -> dict[int, str]:
    return {u.id: u.name or u.email for u in tenancy.list_users(session, tenant_id=tenant_id)}


def _history(
    session: Session, kind: Kind, user: WebUser, item_id: int, lang: str, names: Any
) -> list[dict[str, Any]]:
    """The field audit of one row, newest first, in words."""
    tenant_id = user.principal.tenant_id
    people = _people(session, tenant_id)
    rows = []
    for c in sorted(
        kind.history(session, tenant_id, item_id), key=lambda c: (c.at, c.id), reverse=True
    ):
        rows.append(
            {
                "at": c.at,
                "field": c.field,
                "old": display.audit_text(lang, kind, names, c.field, c.old_value),
                "new": display.audit_text(lang, kind, names, c.field, c.new_value),
                "by": people.get(c.by_user_id, "") if c.by_user_id else (c.by_device_id or ""),
                "reason": c.reason or "",
            }
        )
    return rows


def _routes(kind: Kind) -> None:
    """The pages of one kind: list, new, detail, edit."""
    base = f"/masterdata/{kind.key}"
    ItemId = Annotated[int, Path(alias=kind.id_name, ge=1, le=MAX_ID)]

    def list_page(
        request: Request,
        session: DbSession,
        user: Reader,
        params: Annotated[ListQuery, Query()],
    ) -> Response:
        lang = request.state.web.lang
        tenant_id = user.principal.tenant_id
        filters = Filters(
            q=params.q or None,
            active=params.active,
            kind=params.kind,
            customer_id=params.customer_id,
            location_kind=params.location_kind,
        )
        rows, next_cursor = kind.page(session, tenant_id, filters, params.after, PAGE_SIZE)
        refs = load_refs(session, tenant_id, kind.refs())
        names = display.ref_names(refs)
        prev_url, next_url = _pager(request, params.after, params.trail, next_cursor)
        return render(
            request,
            "masterdata/list.html",
            kind=kind,
            kinds=KINDS,
            rows=[
                (row.id, [display.cell(lang, col, row, names) for col in kind.columns])
                for row in rows
            ],
            filters={
                "q": params.q or "",
                "active": "" if params.active is None else str(params.active).lower(),
                "kind": params.kind or "",
                "customer_id": params.customer_id or "",
                "location_kind": params.location_kind or "",
            },
            filter_fields=[(f, display.options(lang, f, refs)) for f in kind.filters],
            prev_url=prev_url,
            next_url=next_url,
        )

    def _form(
        request: Request,
        session: Session,
        user: WebUser,
        *,
        form: dict[str, Any],
        item: Any = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Response:
        lang = request.state.web.lang
        tenant_id = user.principal.tenant_id
        refs = load_refs(session, tenant_id, kind.refs())
        names = display.ref_names(refs)
        fields = [
            (spec, display.options(lang, spec, refs))
            for spec in kind.fields
            if item is None or not spec.create_only
        ]
        return render(
            request,
            "masterdata/form.html",
            status_code=status_code,
            kind=kind,
            kinds=KINDS,
            item=item,
            item_title=kind.title(item) if item is not None else "",
            fields=fields,
            form=form,
            errors=errors or {},
            other_errors={k: v for k, v in (errors or {}).items() if k not in kind.field_names},
            history=_history(session, kind, user, item.id, lang, names) if item else [],
        )

    def new_page(request: Request, session: DbSession, user: Writer) -> Response:
        given = {k: v for k, v in request.query_params.items() if k in kind.field_names}
        return _form(request, session, user, form=display.new_values(kind, given))

    def create(request: Request, session: DbSession, user: Writer, form: FormData) -> Response:
        lang = request.state.web.lang
        try:
            errors = display.missing(kind, form, creating=True)
            if errors:
                raise FormErrors(errors)
            data = validate(kind.create_schema, display.create_data(kind, form), lang)
            try:
                with session.begin_nested():
                    item = kind.create(
                        session, user.principal.tenant_id, data, user.principal.user_id, None
                    )
            except AppError as exc:
                raise FormErrors(service_error(exc, lang)) from None
        except FormErrors as exc:
            return _form(
                request,
                session,
                user,
                form=form,
                errors=translated(exc.errors, lang),
                status_code=422,
            )
        return flash(
            request, RedirectResponse(f"{base}/{item.id}", status_code=303), "masterdata_created"
        )

    def detail(request: Request, session: DbSession, user: Reader, item_id: ItemId) -> Response:
        lang = request.state.web.lang
        tenant_id = user.principal.tenant_id
        item = kind.get(session, tenant_id, item_id)
        shown = kind.read(session, tenant_id, item) if kind.read else item
        names = display.ref_names(load_refs(session, tenant_id, kind.refs()))
        facts = [
            (
                f"masterdata.field.{spec.name}",
                display.field_text(lang, spec, getattr(shown, spec.name, None), names),
            )
            for spec in kind.fields
        ]
        facts += [
            (f"masterdata.field.{col.name}", display.cell(lang, col, shown, names))
            for col in kind.extra_facts
        ]
        return render(
            request,
            "masterdata/detail.html",
            kind=kind,
            kinds=KINDS,
            item=item,
            item_title=kind.title(item),
            facts=facts,
            history=_history(session, kind, user, item.id, lang, names),
        )

    def edit_page(request: Request, session: DbSession, user: Writer, item_id: ItemId) -> Response:
        item = kind.get(session, user.principal.tenant_id, item_id)
        form = display.form_values(kind, item, request.state.web.lang)
        return _form(request, session, user, form=form, item=item)

    def update(
        request: Request, session: DbSession, user: Writer, item_id: ItemId, form: FormData
    ) -> Response:
        """Sends only what was changed on the form; the service records each changed field
        with the reason given."""
        lang = request.state.web.lang
        tenant_id = user.principal.tenant_id
        item = kind.get(session, tenant_id, item_id)
        before = display.form_values(kind, item, lang)
        reason = (form.get("reason") or "").strip() or None
        try:
            errors = display.missing(kind, form, creating=False)
            if errors:
                raise FormErrors(errors)
            changes = display.update_data(kind, form, before)
            if not changes:
                return flash(
                    request, RedirectResponse(f"{base}/{item.id}", status_code=303), "unchanged"
                )
            if kind.reason_in_data and reason:
                changes["reason"] = reason
            data = validate(kind.update_schema, changes, lang)
            try:
                with session.begin_nested():
                    kind.update(session, tenant_id, item.id, data, user.principal.user_id, reason)
            except AppError as exc:
                raise FormErrors(service_error(exc, lang)) from None
        except FormErrors as exc:
            return _form(
                request,
                session,
                user,
                form=form,
                item=item,
                errors=translated(exc.errors, lang),
                status_code=422,
            )
        return flash(
            request, RedirectResponse(f"{base}/{item.id}", status_code=303), "masterdata_updated"
        )

    item_path = f"{base}/{{{kind.id_name}}}"
    for method, path, endpoint, action in (
        ("GET", base, list_page, Action.MASTERDATA_READ),
        ("GET", f"{base}/new", new_page, Action.MASTERDATA_WRITE),
        ("POST", f"{base}/new", create, Action.MASTERDATA_WRITE),
        ("GET", item_path, detail, Action.MASTERDATA_READ),
        ("GET", f"{item_path}/edit", edit_page, Action.MASTERDATA_WRITE),
        ("POST", f"{item_path}/edit", update, Action.MASTERDATA_WRITE),
    ):
        if "item_id" in endpoint.__annotations__:
            # the annotation names a local type (the path parameter of this kind): resolved
            # here, as FastAPI would look the string up in the module only
            endpoint.__annotations__["item_id"] = ItemId
        endpoint.__name__ = f"masterdata_{kind.key.replace('-', '_')}_{endpoint.__name__}"
        router.add_api_route(
            path.removeprefix("/masterdata"), endpoint, methods=[method], name=endpoint.__name__
        )
        PAGES.append(Page(method, path, action))


for _kind in KINDS:
    _routes(_kind)
