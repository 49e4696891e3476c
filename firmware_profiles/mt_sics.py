"""Mettler Toledo MT-SICS (Standard Interface Command Set): request/response ASCII lines.

Reply line (serial-protocols.md §1)::

    ID SP Status [SP body] CR LF       e.g.  S S     100.00 g

* ``ID`` echoes the command family (``S`` for S/SI/SIR, ``Z``, ``T``, ``TA``, ``I4``, ...);
* status ``S`` stable, ``D`` dynamic, ``A`` done, ``B`` more lines follow; errors ``I`` not
  executable now, ``L`` logical error, ``+`` overload, ``-`` underload;
* a weight body is a right-aligned value with its sign (10 characters in the manual's example)
  and the unit; ``Error <n><t|b>`` may replace the value;
* whole-line general errors ``ES`` syntax, ``ET`` transmission, ``EL`` logical (``EI`` from
  ricado, not in an MT manual).

How replies become readings (the choice this module makes):

* ``S S``/``S D`` -> weight (mode ``net``: the manual says ``S`` sends the net value);
  ``S I`` -> weight, condition ``error``; ``S +`` -> ``overload``; ``S -`` -> ``underload``;
* ``T S <tare>``, ``TA A <tare>`` -> ``ack`` carrying the tare;
* other commands: ``A`` -> ``ack``; ``I``/``L``/``+``/``-`` -> ``ack`` with condition ``error``
  (the command was refused); ``I<n>`` identification and ``B`` lines -> ``status`` with the text;
* ``ES``/``ET``/``EL``/``EI`` -> ``status`` with condition ``error``.

Only one command may be in flight (PyLabRobot quoting spec §2.2); that is the agent's job.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, ClassVar

from firmware_profiles.base import (
    Condition,
    FirmwareProfile,
    FrameError,
    LineFramer,
    Reading,
    SerialSettings,
    known_unit,
    parse_decimal,
)

LINE = re.compile(
    rb"(?P<cmd>[A-Z][A-Z0-9]{0,5})"  # reply ID: the command (family) it answers
    rb"(?: (?P<status>[SDABIL+\-]))?"  # status or command-specific error
    rb"(?: (?P<body>[^\r\n]*))?"  # weight value + unit, quoted text, ...
    rb"\r\n"
)
# Where a reply line starts, for the framer: the strict forms, so that half a line glued in
# front of a whole one (the first read after connecting) is cut off.
SYNC = re.compile(
    rb"(?:"
    rb"S[A-Z]{0,3} [SD] (?:[ +\-0-9.]*[0-9] +[A-Za-z%/]{1,5}| *Error [0-9]+[tb])"  # weight
    rb"|T[AI]? [SDA] [ +\-0-9.]*[0-9] +[A-Za-z%/]{1,5}"  # tare
    rb"|[A-Z][A-Z0-9]{0,5} [AIL+\-]"  # done / refused
    rb"|[A-Z][A-Z0-9]{0,5} [AB] [ -~]*"  # identification, multi-line replies
    rb"|E[STLI]"  # general errors
    rb")\r\n"
)
WEIGHT_BODY = re.compile(
    r"(?P<value>[ +\-0-9.]*[0-9])"  # right-aligned value with its sign, leading spaces
    r" +(?P<unit>[A-Za-z%/]{1,5})"  # unit: g, kg, lb, t, or one we do not carry (mg, ct, oz)
)
ERROR_BODY = re.compile(r" *Error (?P<code>\d+)(?P<where>[tb])")  # value replaced by an error

GENERAL_ERRORS = {
    "ES": "syntax error",
    "ET": "transmission error",
    "EL": "logical error",
    "EI": "not executable at this time",
}
WEIGHT_COMMANDS = frozenset({"S", "SI", "SIR", "SU", "SIU", "SNR", "SC"})
TARE_COMMANDS = frozenset({"T", "TI", "TA"})
S_CONDITIONS: dict[str, Condition] = {"I": "error", "+": "overload", "-": "underload"}
REFUSALS = {"I": "not executable now", "L": "logical error", "+": "overload", "-": "underload"}


class MtSics(FirmwareProfile):
    name: ClassVar[str] = "mt-sics"
    description: ClassVar[str] = "Mettler Toledo MT-SICS request/response (SI polling)"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 8, "N", 1, alternatives=("9600 7E1", "19200 8N1", "4800 8N1", "2400 7E1")
    )
    kinds: ClassVar[frozenset[str]] = frozenset({"weight", "ack", "status"})
    mode: ClassVar = "poll"
    poll_request: ClassVar[bytes | None] = b"SI\r\n"
    seven_bit: ClassVar[bool] = True

    def framer(self) -> LineFramer:
        return LineFramer(b"\r\n", mask_parity=True, sync=SYNC, max_frame=128)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)
        m = LINE.fullmatch(f)
        if m is None:
            raise FrameError(f"expected an MT-SICS reply line ending in CR LF, got {frame!r}")
        cmd = m["cmd"].decode()
        status = m["status"].decode() if m["status"] else None
        body = m["body"].decode() if m["body"] is not None else None
        extra: dict[str, Any] = {"command": cmd, "status": status}

        if cmd in GENERAL_ERRORS and status is None and body is None:
            return Reading(
                kind="status", condition="error", text=GENERAL_ERRORS[cmd], extra={"error": cmd}
            )
        if status is None:
            raise FrameError(f"expected a status after {cmd!r}, got {frame!r}")

        if cmd in WEIGHT_COMMANDS:
            return _weight_reply(status, body, extra, frame)
        if cmd in TARE_COMMANDS and status in "SDA" and body:
            value, unit, unit_extra = _value_and_unit(body)
            return Reading(
                kind="ack", tare=value, unit=unit, stable=status != "D", extra=extra | unit_extra
            )
        if status in REFUSALS:
            if body:
                raise FrameError(f"expected nothing after {cmd} {status}, got {body!r}")
            return Reading(kind="ack", condition="error", text=REFUSALS[status], extra=extra)
        if status == "A" and not body:
            return Reading(kind="ack", extra=extra)
        if status in "AB":
            text = body.strip() if body else ""
            if len(text) >= 2 and text[0] == text[-1] == '"':
                text = text[1:-1]
            return Reading(kind="status", text=text, extra=extra | {"more": status == "B"})
        raise FrameError(f"unexpected status {status!r} for command {cmd!r}: {frame!r}")


def _weight_reply(status: str, body: str | None, extra: dict[str, Any], frame: bytes) -> Reading:
    if status in "I+-":
        if body:
            raise FrameError(f"expected nothing after S {status}, got {body!r}")
        condition = S_CONDITIONS[status]
        return Reading(kind="weight", condition=condition, extra=extra)
    if status not in "SD" or not body:
        raise FrameError(f"expected S S/S D with a weight, got {frame!r}")
    err = ERROR_BODY.fullmatch(body)
    if err:
        return Reading(
            kind="weight",
            condition="error",
            stable=status == "S",
            extra=extra | {"error_code": err["code"], "error_where": err["where"]},
        )
    value, unit, unit_extra = _value_and_unit(body)
    return Reading(
        kind="weight",
        weight=value,
        unit=unit,
        stable=status == "S",
        mode="net",
        extra=extra | unit_extra,
    )


def _value_and_unit(body: str) -> tuple[Decimal, Any, dict[str, Any]]:
    m = WEIGHT_BODY.fullmatch(body)
    if m is None:
        raise FrameError(f"expected '<value> <unit>', got {body!r}")
    value = parse_decimal(m["value"])
    unit = known_unit(m["unit"])
    return value, unit, ({} if unit else {"unit_text": m["unit"]})


def request(command: str) -> bytes:
    """A command line: ``request("SI") == b"SI\\r\\n"``."""
    return command.encode("ascii") + b"\r\n"


def encode_weight(value: Decimal | str, unit: str = "kg", *, stable: bool = True) -> bytes:
    """A weight reply as a balance sends it (for simulators and tests)."""
    return f"S {'S' if stable else 'D'} {value!s:>10} {unit}\r\n".encode("ascii")
