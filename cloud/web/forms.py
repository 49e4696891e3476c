"""Reading HTML forms into the domain's pydantic schemas, and errors back onto the form.

A page route takes ``form: FormData`` (the posted fields as a dict: one string per field,
a list for fields that may repeat, see ``MULTI``), builds its schema with ``validate``, and on
``FormErrors`` renders the form again with ``errors`` (field name -> message in the user's
language) and status 422. Empty fields count as "not given" (None), as browsers send them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from cloud.errors import AppError
from cloud.web import i18n
from cloud.web.session import CSRF_FIELD

M = TypeVar("M", bound=BaseModel)
MULTI = frozenset({"roles"})
"""Fields that a form may send more than once (checkboxes)."""
MAX_FIELDS = 200


class FormErrors(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


async def read_form(request: Request) -> dict[str, Any]:
    form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    out: dict[str, Any] = {}
    for key in form:
        if key == CSRF_FIELD:
            continue
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        out[key] = values if key in MULTI else (values[-1] if values else "")
    return out


FormData = Annotated[dict[str, Any], Depends(read_form)]


def clean(fields: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The named fields, stripped; empty ones left out (so the schema's default applies)."""
    out = {}
    for name in names:
        value = fields.get(name)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
        if value is None or value == []:
            continue
        out[name] = value
    return out


_MESSAGES = {
    "missing": "form.error.missing",
    "string_too_long": "form.error.too_long",
    "string_too_short": "form.error.missing",
    "greater_than": "form.error.positive",
    "greater_than_equal": "form.error.positive",
    "decimal_parsing": "form.error.number",
    "decimal_max_digits": "form.error.number",
    "decimal_max_places": "form.error.number",
    "int_parsing": "form.error.number",
    "date_from_datetime_parsing": "form.error.date",
    "date_parsing": "form.error.date",
    "enum": "form.error.choice",
    "literal_error": "form.error.choice",
    "string_pattern_mismatch": "form.error.format",
}


FIELD_OF = {"window_start": "window_from", "window_end": "window_to"}
"""Schema fields shown under another form field (the window is two times on the form)."""
MESSAGE_OF = {"window_to": "form.error.window_inverted"}
"""Errors of these form fields read better in our own words than in the schema's."""


def _named(detail: str) -> tuple[str | None, str]:
    """``"site_id: no such record"`` -> ``("site_id", "no such record")``."""
    head, sep, rest = detail.partition(": ")
    return (head, rest) if sep and head.isidentifier() else (None, detail)


def _place(errors: dict[str, str], name: str, message: str, lang: str) -> None:
    name = FIELD_OF.get(name, name)
    if name in MESSAGE_OF:
        message = i18n.translate(lang, MESSAGE_OF[name])
    errors.setdefault(name, message)


def validation_errors(exc: ValidationError, lang: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        key = _MESSAGES.get(e.get("type", ""))
        message = str(e.get("msg", "")).removeprefix("Value error, ")
        name = loc[0] if loc else None
        if name is None:
            name, message = _named(message)
        if key:
            message = i18n.translate(lang, key)
        _place(errors, name or "__all__", message, lang)
    return errors


def validate(schema: type[M], data: Mapping[str, Any], lang: str) -> M:
    try:
        return schema.model_validate(dict(data))
    except ValidationError as exc:
        raise FormErrors(validation_errors(exc, lang)) from None


def service_error(exc: AppError, lang: str = i18n.DEFAULT) -> dict[str, str]:
    """An error of a service, on the field it names (``UnknownReference.field``, or a
    ``"field: ..."`` detail), else for the whole form."""
    field = getattr(exc, "field", None)
    named, message = _named(exc.detail)
    errors: dict[str, str] = {}
    _place(errors, field or named or "__all__", message if named else exc.detail, lang)
    return errors


def decimal_input(value: str | None) -> str | None:
    """A number as people type it: ``1.234,5`` or ``1234,5`` (Dutch) and ``1234.5`` all mean
    the same. With a comma, the comma is the decimal separator and dots group thousands."""
    if value is None:
        return None
    text = value.strip().replace(" ", "").replace("\u00a0", "")
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    return text or None


def window(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``requested_date`` plus the times ``window_from`` / ``window_to`` (HH:MM, local time)
    as the schema's aware ``window_start`` / ``window_end``. A time without a date is an
    error on ``requested_date``; an unreadable time an error on its own field."""
    from datetime import date, datetime, time

    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    day_text = (fields.get("requested_date") or "").strip()
    for name, target in (("window_from", "window_start"), ("window_to", "window_end")):
        text = (fields.get(name) or "").strip()
        if not text:
            continue
        if not day_text:
            errors["requested_date"] = "form.error.date_for_window"
            continue
        try:
            day = date.fromisoformat(day_text)
            at = time.fromisoformat(text)
        except ValueError:
            errors[name] = "form.error.time"
            continue
        out[target] = datetime.combine(day, at, tzinfo=i18n.TIMEZONE)
    if errors:
        raise FormErrors(errors)
    return out


def translated(errors: dict[str, str], lang: str) -> dict[str, str]:
    """Messages that are catalogue keys (``form.error.*``) in the user's language."""
    return {
        k: i18n.translate(lang, v) if v.startswith("form.error.") else v for k, v in errors.items()
    }
