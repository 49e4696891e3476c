"""Master data for people and back: list cells, detail facts and audit values in the user's
language, and a posted form as the domain schema takes it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cloud.web import i18n
from cloud.web.forms import decimal_input
from cloud.web.masterdata.entities import Column, Field, Kind
from cloud.web.templating import label

Refs = Mapping[str, list[tuple[int, str]]]


def ref_names(refs: Refs) -> dict[str, dict[int, str]]:
    return {name: dict(rows) for name, rows in refs.items()}


def _yes_no(lang: str, value: Any) -> str:
    return i18n.translate(lang, "masterdata.yes" if value else "masterdata.no")


def _where(lang: str, row: Any, names: Mapping[str, Mapping[int, str]]) -> str:
    """Where a container stands now: yard, a site (by name), a vehicle (by plate), unknown."""
    kind = getattr(row, "location_kind", None) or "unknown"
    text = label(lang, "masterdata.location.", kind)
    site_id, vehicle_id = getattr(row, "site_id", None), getattr(row, "vehicle_id", None)
    if site_id is not None:
        text += f": {names.get('sites', {}).get(site_id, f'#{site_id}')}"
    elif vehicle_id is not None:
        text += f": {names.get('vehicles', {}).get(vehicle_id, f'#{vehicle_id}')}"
    return text


def cell(lang: str, col: Column, row: Any, names: Mapping[str, Mapping[int, str]]) -> str:
    """One value of a row as a list or the detail page shows it ("" when there is none)."""
    if col.fmt == "location":
        return _where(lang, row, names)
    if col.fmt == "address":
        parts = (getattr(row, "street", None), getattr(row, "postal_code", None))
        head = " ".join(p for p in parts if p)
        return ", ".join(p for p in (head, getattr(row, "city", None)) if p)
    value = getattr(row, col.name, None)
    if col.fmt == "bool":
        return _yes_no(lang, value)
    if value is None or value == "" or value == []:
        return ""
    unit = i18n.translate(lang, col.unit) if col.unit.startswith("masterdata.") else col.unit
    suffix = f" {unit}" if unit else ""
    match col.fmt:
        case "num":
            return i18n.format_decimal(value, lang) + suffix
        case "money":
            return "€ " + i18n.format_decimal(value, lang, places=2)
        case "percent":
            return i18n.format_decimal(value, lang) + " %"
        case "date":
            return i18n.format_date(value, lang)
        case "datetime":
            return i18n.format_datetime(value, lang)
        case "list":
            return ", ".join(str(v) for v in value)
        case "label":
            return label(lang, col.prefix, str(value))
        case "ref":
            return names.get(col.ref or "", {}).get(value, f"#{value}")
    return str(value)


def field_text(lang: str, spec: Field, value: Any, names: Mapping[str, Mapping[int, str]]) -> str:
    """A field's current value on the detail page."""
    if spec.kind == "check":
        return _yes_no(lang, value)
    if value is None or value == "" or value == []:
        return ""
    if spec.ref:
        return names.get(spec.ref, {}).get(value, f"#{value}")
    if spec.kind == "select":
        return label(lang, spec.prefix, str(value)) if spec.prefix else str(value)
    if spec.kind == "decimal":
        return i18n.format_decimal(value, lang)
    if spec.kind == "date":
        return i18n.format_date(value, lang)
    if spec.kind == "list":
        return ", ".join(str(v) for v in value)
    return str(value)


def audit_text(
    lang: str,
    kind: Kind,
    names: Mapping[str, Mapping[int, str]],
    field: str,
    value: str | None,
) -> str:
    """A value as the audit stored it (``cloud.audit.service.as_text``), for people."""
    if value is None:
        return ""
    spec = next((f for f in kind.fields if f.name == field), None)
    if value in ("true", "false") and (spec is None or spec.kind == "check"):
        return _yes_no(lang, value == "true")
    if spec is not None and spec.ref and value.isdigit():
        return names.get(spec.ref, {}).get(int(value), f"#{value}")
    if spec is not None and spec.kind == "select" and spec.prefix:
        return label(lang, spec.prefix, value)
    if value.startswith("[") and value.endswith("]"):
        return value.strip("[]").replace('"', "")
    return i18n.format_stored(value, lang)


# -- forms ------------------------------------------------------------------------------------


def _plain_decimal(value: Decimal, lang: str) -> str:
    """A decimal for an input: no grouping (``1234,5`` in Dutch, ``1234.5`` in English), so
    that ``decimal_input`` reads it back the same."""
    text = format(value.normalize(), "f")
    return text.replace(".", ",") if lang == "nl" else text


def form_values(kind: Kind, obj: Any, lang: str) -> dict[str, str]:
    """The form of an existing row, filled in as a person would have typed it."""
    out: dict[str, str] = {}
    for spec in kind.fields:
        value = getattr(obj, spec.name, None)
        if spec.kind == "check":
            out[spec.name] = "on" if value else ""
        elif value is None:
            out[spec.name] = ""
        elif isinstance(value, Decimal):
            out[spec.name] = _plain_decimal(value, lang)
        elif isinstance(value, datetime | date):
            out[spec.name] = value.isoformat()
        elif isinstance(value, list):
            out[spec.name] = ", ".join(str(v) for v in value)
        else:
            out[spec.name] = str(value)
    return out


def new_values(kind: Kind, given: Mapping[str, str]) -> dict[str, str]:
    """An empty form with the defaults, and what the link that opened it names (``?customer_id=``
    for a new site of that customer)."""
    out = {spec.name: spec.default for spec in kind.fields}
    for spec in kind.fields:
        value = given.get(spec.name)
        if spec.ref and value and value.isdigit() and len(value) <= 12:
            out[spec.name] = value
    return out


def _posted(spec: Field, form: Mapping[str, Any]) -> str:
    raw = form.get(spec.name)
    if spec.kind == "check":
        return "on" if raw else ""
    return raw.strip() if isinstance(raw, str) else ""


def _value(spec: Field, text: str) -> Any:
    """A posted text as the schema takes it (None: not given / cleared)."""
    if spec.kind == "check":
        return text == "on"
    if text == "":
        return None
    if spec.kind == "decimal":
        return decimal_input(text)
    if spec.kind == "list":  # typed as "a, b" or "a b"
        return [part for part in re.split(r"[,;\s]+", text) if part]
    return text


def missing(kind: Kind, form: Mapping[str, Any], *, creating: bool) -> dict[str, str]:
    """Required fields left empty: ``form.error.missing`` (before the schema's own message)."""
    return {
        spec.name: "form.error.missing"
        for spec in kind.fields
        if spec.required
        and spec.kind != "check"
        and (creating or not spec.create_only)
        and _posted(spec, form) == ""
    }


def create_data(kind: Kind, form: Mapping[str, Any]) -> dict[str, Any]:
    """The posted new row for the ``Create`` schema: empty fields left out (defaults apply)."""
    data: dict[str, Any] = {}
    for spec in kind.fields:
        value = _value(spec, _posted(spec, form))
        if value is not None:
            data[spec.name] = value
    return data


def update_data(kind: Kind, form: Mapping[str, Any], before: Mapping[str, str]) -> dict[str, Any]:
    """Only the fields changed on the form (an emptied one: None, which clears it), so that a
    row is never touched where the person did not touch it."""
    data: dict[str, Any] = {}
    for spec in kind.fields:
        if spec.create_only:
            continue
        text = _posted(spec, form)
        if text != before.get(spec.name, ""):
            data[spec.name] = _value(spec, text)
    return data


def options(lang: str, spec: Field, refs: Refs) -> list[tuple[str, str]]:
    """The choices of a select field: fixed values with their labels, or the tenant's rows."""
    if spec.ref:
        return [(str(i), text) for i, text in refs.get(spec.ref, [])]
    return [
        (str(v), label(lang, spec.prefix, str(v)) if spec.prefix else str(v)) for v in spec.values
    ]
