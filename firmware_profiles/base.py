"""What every firmware profile shares: the normalized ``Reading``, serial defaults, framers and
errors. Pure: no I/O and nothing outside the standard library.

A profile turns a byte stream into readings in two steps:

1. a **framer** finds complete frames in arbitrary chunks of bytes (one byte at a time, two
   frames at once, garbage in front) with a small state machine, never ``readline()``;
2. ``parse(frame)`` decodes one frame, checking its checksum, into a :class:`Reading`, or raises
   a :class:`ProfileError` that says what was expected and what arrived.

A weight that the indicator did not show (overload, error, unparseable digits) is never turned
into 0: it is ``weight=None`` with a ``condition``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol

Kind = Literal["weight", "position", "tag", "status", "ack", "error"]
Unit = Literal["kg", "g", "t", "lb"]
Condition = Literal["ok", "overload", "underload", "error"]
Mode = Literal["gross", "net"]

UNITS: frozenset[str] = frozenset({"kg", "g", "t", "lb"})


# ---------------------------------------------------------------------------------------------
# Errors


class ProfileError(Exception):
    """Base of every error a profile may raise on input."""


class FrameError(ProfileError):
    """The frame does not have the layout the protocol defines."""


class ChecksumError(FrameError):
    """The frame is complete but its checksum does not match."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"expected {expected}, got {got}")
        self.expected = expected
        self.got = got


class UnknownProfile(ProfileError):
    """No profile with that name is registered."""


# ---------------------------------------------------------------------------------------------
# Readings


@dataclass(frozen=True, slots=True)
class Reading:
    """One decoded frame, normalized across protocols."""

    kind: Kind
    weight: Decimal | None = None
    unit: Unit | None = None
    stable: bool | None = None
    mode: Mode | None = None
    tare: Decimal | None = None
    condition: Condition = "ok"
    lat: Decimal | None = None
    lon: Decimal | None = None
    time: datetime | None = None
    speed_kmh: Decimal | None = None
    course: Decimal | None = None
    satellites: int | None = None
    tag_id: str | None = None
    text: str | None = None
    """Free text of status, ack and error frames (``I4 A "B207696838"`` and the like)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Protocol-specific facts worth keeping (alibi record id, division, axle name, ...)."""

    def __post_init__(self) -> None:
        if self.kind == "weight":
            if self.condition == "ok" and self.weight is None:
                raise ValueError("an 'ok' weight reading needs a weight")
            if self.condition != "ok" and self.weight is not None:
                raise ValueError("a weight reading that is not 'ok' carries no weight")
        if self.unit is not None and self.unit not in UNITS:
            raise ValueError(f"unit {self.unit!r} is not one of {sorted(UNITS)}")

    def to_json(self) -> dict[str, Any]:
        """The shape ``python -m firmware_profiles decode`` prints."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "weight":
            out.update(
                weight=_num(self.weight),
                unit=self.unit,
                stable=self.stable,
                mode=self.mode,
                tare=_num(self.tare),
                condition=self.condition,
            )
        elif self.kind == "position":
            out.update(
                lat=_num(self.lat),
                lon=_num(self.lon),
                time=self.time.isoformat() if self.time else None,
                speed_kmh=_num(self.speed_kmh),
                course=_num(self.course),
                satellites=self.satellites,
            )
        elif self.kind == "tag":
            out["tag_id"] = self.tag_id
        if self.kind != "weight":
            # A status that says what the scale is doing instead of sending a weight (Toledo
            # 8217 ``?A``: in motion): an absent key would read as "unknown".
            if self.stable is not None:
                out["stable"] = self.stable
            if self.mode is not None:
                out["mode"] = self.mode
            # A tare acknowledgement (MT-SICS ``T S``, SMA mode ``T``) or a failed command.
            if self.tare is not None:
                out.update(tare=_num(self.tare), unit=self.unit)
            if self.condition != "ok":
                out["condition"] = self.condition
        if self.text is not None:
            out["text"] = self.text
        if self.extra:
            out["extra"] = {
                k: _num(v) if isinstance(v, Decimal) else v for k, v in self.extra.items()
            }
        return out


def _num(value: Decimal | None) -> int | float | None:
    """A JSON number for display. The Decimal itself is what the agent keeps."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def error_json(exc: ProfileError) -> dict[str, str]:
    return {"kind": "error", "error": f"{type(exc).__name__}: {exc}"}


_NUMBER = re.compile(r"(?P<sign>[+-]?) *(?P<body>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def parse_decimal(text: str | bytes, *, what: str = "weight") -> Decimal:
    """Strictly parse a fixed-width number: padding spaces stripped, optional sign (spaces may
    sit between the sign and the digits, ``"+  4.876"``), digits, at most one dot.

    Raises :class:`FrameError` for anything else, so that ``"  --.-- "`` or ``"~~~~"`` never
    becomes a number (OpenTrickler PR #49: ``strtof`` quietly returned 0), and ``"12 34"``
    (a space inside the digits) is not silently read as 1234.
    """
    s = text.decode("ascii", "replace") if isinstance(text, bytes) else text
    m = _NUMBER.fullmatch(s.strip(" "))
    if m is None:
        raise FrameError(f"{what} field {text!r} is not a number")
    return Decimal(m["sign"] + m["body"])


def normalize_unit(text: str | bytes) -> Unit:
    """Map the unit spellings indicators use (``KG``, ``kg ``, ``L``, ``tn`` ...) to ours."""
    s = (text.decode("ascii", "replace") if isinstance(text, bytes) else text).strip().lower()
    unit = _UNIT_ALIASES.get(s)
    if unit is None:
        raise FrameError(f"unit {text!r} is not kg, g, t or lb")
    return unit


def known_unit(text: str | bytes) -> Unit | None:
    """Like :func:`normalize_unit`, but ``None`` for a unit we do not carry (oz, ct, pcs, short
    tons, blank). Profiles keep the raw text in ``extra["unit_text"]`` when this is ``None``."""
    try:
        return normalize_unit(text)
    except FrameError:
        return None


# "tn" and "ton" are deliberately absent: US indicators (Rice Lake, Cardinal) use them for the
# short ton of 2000 lb, 9 % less than the metric tonne. Only "t" is the tonne.
_UNIT_ALIASES: dict[str, Unit] = {
    "kg": "kg",
    "k": "kg",
    "g": "g",
    "t": "t",
    "lb": "lb",
    "lbs": "lb",
    "l": "lb",
}


# ---------------------------------------------------------------------------------------------
# Serial settings


@dataclass(frozen=True, slots=True)
class SerialSettings:
    baudrate: int = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    alternatives: tuple[str, ...] = ()
    """Other settings seen in the field, e.g. ``("9600 7E1", "4800 8N1")``."""

    def __str__(self) -> str:
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"

    def to_json(self) -> dict[str, Any]:
        return {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": self.parity,
            "stopbits": self.stopbits,
            "alternatives": list(self.alternatives),
        }


# ---------------------------------------------------------------------------------------------
# Framers


class Framer(Protocol):
    discarded: int
    """Bytes thrown away while looking for a frame (garbage, partial frames)."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Take a chunk of bytes; yield every frame it completes, in order."""
        ...

    def flush(self) -> Iterator[bytes]:
        """End of input: yield a frame that was complete but waited for a look-ahead byte."""
        ...

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a frame."""
        ...

    def expecting(self) -> str:
        """What the framer waits for next, in words (for a user told that no frame came)."""
        ...


class _BufferedFramer:
    """Buffer handling shared by the framers below: masking, a size cap and counting."""

    def __init__(self, *, mask_parity: bool, max_frame: int, idle: bytes = b"") -> None:
        self.mask_parity = mask_parity
        self.max_frame = max_frame
        self.idle = frozenset(idle)
        """Bytes expected between frames (the LF of a CR LF pair): dropped but not counted."""
        self.discarded = 0
        self._buf = bytearray()

    def _append(self, data: bytes) -> None:
        if self.mask_parity:
            data = bytes(b & 0x7F for b in data)
        self._buf += data

    def _drop(self, n: int) -> None:
        self.discarded += n - sum(1 for b in self._buf[:n] if b in self.idle)
        del self._buf[:n]

    def flush(self) -> Iterator[bytes]:
        self._drop(len(self._buf))
        return iter(())

    @property
    def pending(self) -> int:
        return len(self._buf)

    def expecting(self) -> str:
        return "a complete frame"


class LineFramer(_BufferedFramer):
    """Frames that end with a terminator (``b"\\r\\n"``, ``b"\\r"``, ``b"\\x03"``...), optionally
    starting with a start byte; the terminator stays on the frame.

    ``start``: when given, bytes before it are garbage. ``trailer``: bytes that follow the
    terminator and belong to the frame (a checksum after CR).

    ``sync``: for protocols without a start byte, a pattern a whole frame matches. A line is cut
    to its longest suffix that matches, so garbage or half a frame glued in front of a frame
    (the first read after connecting) does not cost that frame. A line with no matching suffix
    is passed on whole, and ``parse`` reports it. ``idle``: bytes expected between frames (the
    LF after a CR terminator); they are dropped without counting as garbage."""

    def __init__(
        self,
        terminator: bytes,
        *,
        start: bytes | None = None,
        max_frame: int = 128,
        mask_parity: bool = False,
        trailer: int = 0,
        sync: re.Pattern[bytes] | None = None,
        idle: bytes = b"",
    ) -> None:
        super().__init__(mask_parity=mask_parity, max_frame=max_frame, idle=idle)
        self.terminator = terminator
        self.start = start
        self.trailer = trailer
        self.sync = sync

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._append(data)
        while True:
            if self.start is not None:
                i = self._buf.find(self.start)
                if i < 0:
                    keep = len(self.start) - 1
                    if len(self._buf) > keep:
                        self._drop(len(self._buf) - keep)
                    return
                if i:
                    self._drop(i)
            end = self._buf.find(self.terminator, len(self.start or b""))
            if end < 0:
                if len(self._buf) > self.max_frame:
                    self._resync()
                    continue
                return
            stop = end + len(self.terminator) + self.trailer
            if stop > self.max_frame:
                if self.start is None:
                    # an overlong line: only its last max_frame bytes can hold a frame
                    self._drop(stop - self.max_frame)
                else:
                    self._resync()
                continue
            if len(self._buf) < stop:
                return
            frame = bytes(self._buf[:stop])
            del self._buf[:stop]
            # A start byte inside the frame means the earlier start was a partial frame.
            if self.start is not None:
                j = frame.rfind(self.start, 1, end)
                if j > 0:
                    self.discarded += j
                    frame = frame[j:]
            frame = self._synced(frame)
            if frame:
                yield frame

    def expecting(self) -> str:
        if self.start is not None and not self._buf.startswith(self.start):
            return f"the start byte {self.start!r}"
        tail = f" and {self.trailer} trailing byte(s)" if self.trailer else ""
        return f"the terminator {self.terminator!r}{tail}"

    def _synced(self, frame: bytes) -> bytes:
        lead = 0
        while lead < len(frame) and frame[lead] in self.idle:
            lead += 1
        if self.start is None and lead >= len(frame) - len(self.terminator) - self.trailer:
            return b""  # an empty line is not a frame
        if self.sync is not None:
            for i in range(lead, len(frame)):
                if self.sync.fullmatch(frame, i):
                    self.discarded += i - lead
                    return frame[i:]
        return frame[lead:]

    def _resync(self) -> None:
        """No terminator within ``max_frame``: skip to the next start byte, or (without a start
        byte) keep only the last ``max_frame`` bytes, where a frame may be arriving."""
        if self.start is not None:
            j = self._buf.find(self.start, 1)
            self._drop(j if j > 0 else len(self._buf))
        else:
            self._drop(len(self._buf) - self.max_frame)


class FixedFramer(_BufferedFramer):
    """Frames that begin with ``start`` and have one of a few fixed lengths, told apart by a
    predicate on the candidate bytes. Needed where a checksum byte may equal a framing byte
    (Toledo continuous, WL-134 RFID), so the stream cannot be split on a terminator."""

    def __init__(
        self,
        start: int,
        lengths: tuple[int, ...],
        accept: Callable[[bytes], bool],
        *,
        mask_parity: bool = False,
    ) -> None:
        super().__init__(mask_parity=mask_parity, max_frame=max(lengths))
        self.start = start
        self.lengths = tuple(sorted(lengths))
        self.accept = accept

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._append(data)
        while True:
            i = self._buf.find(self.start)
            if i < 0:
                self._drop(len(self._buf))
                return
            if i:
                self._drop(i)
            decided = False
            for n in self.lengths:
                if len(self._buf) < n:
                    return  # wait: a longer frame may still match
                if self.accept(bytes(self._buf[:n])):
                    frame = bytes(self._buf[:n])
                    del self._buf[:n]
                    yield frame
                    decided = True
                    break
            if not decided:
                self._drop(1)  # not a frame start after all: resync on the next start byte

    def expecting(self) -> str:
        if not self._buf:
            return f"the start byte {bytes([self.start])!r}"
        sizes = " or ".join(str(n) for n in self.lengths)
        return f"the rest of a {sizes}-byte frame ({len(self._buf)} byte(s) so far)"


class PatternFramer(_BufferedFramer):
    """Frames found by a pattern, for streams that mix frame shapes (different start bytes, with
    and without terminators). Bytes before a match are garbage; bytes that never become part of
    a match within ``max_frame`` are dropped.

    The pattern must describe complete frames that end in a definite byte (terminator or fixed
    length), loose enough to let a frame with a bad checksum through to ``parse``."""

    def __init__(
        self,
        pattern: re.Pattern[bytes],
        *,
        max_frame: int,
        mask_parity: bool = False,
        idle: bytes = b"",
    ) -> None:
        super().__init__(mask_parity=mask_parity, max_frame=max_frame, idle=idle)
        self.pattern = pattern

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._append(data)
        while True:
            m = self.pattern.search(self._buf)
            if m is None or m.end() == m.start():
                excess = len(self._buf) - (self.max_frame - 1)
                if excess > 0:
                    self._drop(excess)
                return
            frame = bytes(m.group())
            self._drop(m.start())
            del self._buf[: len(frame)]
            yield frame


# ---------------------------------------------------------------------------------------------
# Profiles


class FirmwareProfile:
    """Base class for profiles. Subclasses set the class attributes and implement ``parse``."""

    name: ClassVar[str]
    description: ClassVar[str]
    serial: ClassVar[SerialSettings]
    kinds: ClassVar[frozenset[str]] = frozenset({"weight"})
    mode: ClassVar[Literal["continuous", "poll"]] = "continuous"
    poll_request: ClassVar[bytes | None] = None
    """Bytes to send for one reading in poll mode (request/response protocols)."""
    has_stability_flag: bool = True
    """False for formats without a motion flag: the agent then uses a window of readings.
    A plain attribute, not a ClassVar: a ``format`` option may switch it per instance."""
    seven_bit: ClassVar[bool] = False
    """True for ASCII protocols run at 7 data bits in the field: the framer and ``parse`` mask
    bit 7, so a 7E1 device read at 8N1 still decodes."""

    def __init__(self, **options: Any) -> None:
        unknown = set(options) - set(self.option_names())
        if unknown:
            raise ProfileError(f"{self.name}: unknown option(s) {sorted(unknown)}")
        self.options = options

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ()

    def _choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = str(self.options.get(key, default))
        if value not in choices:
            raise ProfileError(f"{self.name}: option {key} must be one of {choices}, got {value!r}")
        return value

    def _int_option(self, key: str, default: int, *, low: int, high: int) -> int:
        raw = self.options.get(key, default)
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ProfileError(
                f"{self.name}: option {key} must be an integer, got {raw!r}"
            ) from None
        if not low <= value <= high:
            raise ProfileError(f"{self.name}: option {key} must be in {low}..{high}, got {value}")
        return value

    def _unit_option(self) -> Unit | None:
        """The ``unit`` option, for formats whose frames carry no unit."""
        raw = self.options.get("unit")
        if raw is None:
            return None
        unit = known_unit(str(raw))
        if unit is None:
            raise ProfileError(f"{self.name}: option unit must be kg, g, t or lb, got {raw!r}")
        return unit

    def framer(self) -> Framer:
        raise NotImplementedError

    def parse(self, frame: bytes) -> Reading:
        raise NotImplementedError

    def decode(
        self, data: bytes, *, framer: Framer | None = None
    ) -> Iterator[Reading | ProfileError]:
        """Frame and parse a chunk; errors are yielded, not raised, so a stream never stops."""
        f = framer or self.framer()
        for frame in f.feed(data):
            yield self._safe_parse(frame)
        if framer is None:
            for frame in f.flush():
                yield self._safe_parse(frame)

    def _safe_parse(self, frame: bytes) -> Reading | ProfileError:
        try:
            return self.parse(frame)
        except ProfileError as exc:
            return exc
