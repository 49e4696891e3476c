"""Languages of the web pages: Dutch by default, English available.

Every visible text is a key in the catalogues ``nl.json`` and ``en.json`` beside this file
(flat: ``"orders.title": "Orders"``), looked up with ``translate(lang, key, **values)``; in a
template that is ``t("orders.title")``. ``{name}`` placeholders are filled with ``values``
(``str.format_map``; values are escaped by the template like any other). A key missing from
English falls back to Dutch, a key missing from both shows as the key itself, so a forgotten
text is visible rather than blank. ``tests/web/test_i18n.py`` checks both catalogues have the
same keys.

Numbers and dates follow the language: ``1.234,5 kg`` and ``06-12-2026`` in Dutch,
``1,234.5 kg`` and ``2026-12-06`` in English. Decimals are never rounded for display unless
``places`` is given (money); weights keep every digit they have."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

LANGUAGES: tuple[str, ...] = ("nl", "en")
DEFAULT = "nl"
HERE = Path(__file__).resolve().parent
TIMEZONE = ZoneInfo("Europe/Amsterdam")
"""Times are shown in the tenants' time zone (all Dutch today; ``Tenant.timezone``)."""


@cache
def catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((HERE / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def extra_catalogue(lang: str) -> dict[str, str]:
    """Texts of sub-packages (``cloud/web/<area>/i18n/<lang>.json``), merged in at start."""
    return _extra.setdefault(lang, {})


_extra: dict[str, dict[str, str]] = {}


def register(directory: Path) -> None:
    """Add a sub-package's catalogues (``<directory>/nl.json``, ``en.json``). Their keys must
    not collide with the base catalogue's (use the area as prefix: ``masterdata.*``)."""
    for lang in LANGUAGES:
        path = directory / f"{lang}.json"
        if path.is_file():
            extra_catalogue(lang).update(json.loads(path.read_text(encoding="utf-8")))


def normalize(lang: str | None) -> str | None:
    """``"en-GB"`` -> ``"en"``; None for a language we do not have."""
    if not lang:
        return None
    code = lang.strip().lower()[:2]
    return code if code in LANGUAGES else None


def lookup(lang: str, key: str) -> str | None:
    for code in (lang, DEFAULT):
        text = catalogue(code).get(key) or extra_catalogue(code).get(key)
        if text is not None:
            return text
    return None


def translate(lang: str, key: str, /, **values: object) -> str:
    text = lookup(lang, key)
    if text is None:
        return key
    return text.format_map(values) if values else text


def format_decimal(
    value: Decimal | int | float | str | None, lang: str, places: int | None = None
) -> str:
    """``Decimal("1234.500")`` -> ``"1.234,5"`` (nl). ``places`` fixes the digits after the
    separator (money); otherwise trailing zeros go and nothing is rounded."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places))
        text = format(number, "f")
    else:
        text = format(number.normalize(), "f")
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    whole, _, frac = text.partition(".")
    group, point = (".", ",") if lang == "nl" else (",", ".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = sign + group.join(groups)
    return f"{out}{point}{frac}" if frac else out


def format_date(value: date | datetime | None, lang: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(TIMEZONE).date()
    return value.strftime("%d-%m-%Y") if lang == "nl" else value.isoformat()


def format_datetime(value: datetime | None, lang: str) -> str:
    if value is None:
        return ""
    local = value.astimezone(TIMEZONE)
    return f"{format_date(local.date(), lang)} {local.strftime('%H:%M')}"


def format_time(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(TIMEZONE).strftime("%H:%M")


def format_stored(value: str | None, lang: str) -> str:
    """A value as the audit stores it (``cloud.audit.service.as_text``), for people: ISO
    times and dates in the local form, plain decimals with the language's separators."""
    if value is None:
        return ""
    if len(value) >= 16 and value[4:5] == "-" and "T" in value:
        try:
            return format_datetime(datetime.fromisoformat(value), lang)
        except ValueError:
            return value
    if len(value) == 10 and value[4:5] == "-":
        try:
            return format_date(date.fromisoformat(value), lang)
        except ValueError:
            return value
    if value.replace(".", "", 1).lstrip("-").isdigit() and "." in value:
        return format_decimal(value, lang)
    return value
