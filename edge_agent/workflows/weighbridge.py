"""Two-pass weighing at a weighbridge.

A vehicle is identified (RFID card or a plate typed on the terminal), drives onto the bridge,
and the first stable weight is its first weighing (in). When the same vehicle comes back, its
stable weight is the second weighing (out); the heavier is gross, the lighter tare, net the
difference, and the ticket goes into the outbox in the same SQLite transaction that closes the
open weighing and takes the next ticket number. A weight the indicator did not show as stable,
a stale weight and a weight from a lost port are never used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from edge_agent.clock import Clock
from edge_agent.config import WeighbridgeConfig
from edge_agent.outbox import Outbox
from edge_agent.uploads import FileStore
from firmware_profiles import Reading
from protocols import DeviceConfig, WeighingPass, WeighingTicket
from protocols.normalize import plate_key, to_kg

log = structlog.get_logger("edge_agent.weighbridge")
STALE_AFTER_S = 2.0


@dataclass(frozen=True)
class Identification:
    kind: str  # card | plate
    value: str
    at_mono: float

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"


class WeighbridgeWorkflow:
    def __init__(
        self,
        cfg: WeighbridgeConfig,
        *,
        outbox: Outbox,
        device_id: str,
        clock: Clock,
        files: FileStore | None = None,
    ) -> None:
        self.cfg = cfg
        self.files = files
        self.outbox = outbox
        self.device_id = device_id
        self.clock = clock
        self.occupied = False
        self.captured = False
        self.identification: Identification | None = None
        self.last_stable: tuple[Reading, datetime, float] | None = None
        self.current: tuple[Reading, bool] | None = None
        """What the indicator shows now, for the terminal page."""
        self.last_event = "waiting for a vehicle"
        self.tickets = 0
        self._waiting_logged = False
        self._ident_used = False

    # -- inputs --------------------------------------------------------------------------

    def on_tag(self, tag_id: str) -> None:
        self._identify(Identification("card", tag_id, self.clock.monotonic()))

    def on_plate(self, plate: str) -> None:
        plate = plate.strip().upper()
        if plate:
            self._identify(Identification("plate", plate, self.clock.monotonic()))

    def on_port_lost(self) -> None:
        """The indicator is gone: whatever weight we had is no longer true."""
        self.last_stable = None
        self.current = None

    def on_motion(self) -> None:
        """The indicator reports motion instead of a weight (Toledo 8217 ``?A``): the weight
        shown last is no longer stable, and cannot be captured."""
        self.last_stable = None
        if self.current is not None:
            self.current = (self.current[0], False)

    def open_weighings(self) -> list[dict[str, Any]]:
        with self.outbox.transaction() as db:
            rows = db.execute(
                "SELECT key, value FROM state WHERE key LIKE 'open:%' ORDER BY key"
            ).fetchall()
        return [{"vehicle": k.split(":", 2)[2], **json.loads(v)} for k, v in rows]

    def on_weight(self, reading: Reading, *, stable: bool, at: datetime) -> None:
        self.current = (reading, stable)
        if reading.condition != "ok" or reading.weight is None or reading.unit is None:
            self.last_stable = None
            return
        kg = to_kg(reading.weight, reading.unit)
        if kg < Decimal(str(self.cfg.min_weight_kg)):
            if self.occupied:
                self.last_event = "bridge empty"
            self.occupied = False
            self.captured = False
            self.last_stable = None
            self._waiting_logged = False
            if self._ident_used:
                self.identification = None
                self._ident_used = False
            return
        self.occupied = True
        if not stable:
            self.last_stable = None
            return
        self.last_stable = (reading, at, self.clock.monotonic())
        if not self.captured:
            self._try_capture()

    # -- internals -----------------------------------------------------------------------

    def _identify(self, ident: Identification) -> None:
        self.identification = ident
        self._ident_used = False
        self.last_event = f"identified {ident.kind} {ident.value}"
        log.info("edge_agent.identified", kind=ident.kind, value=ident.value)
        if self.occupied and not self.captured:
            self._try_capture()

    def _fresh_identification(self) -> Identification | None:
        ident = self.identification
        if ident is None:
            return None
        if self.clock.monotonic() - ident.at_mono > self.cfg.identification_timeout_s:
            self.identification = None
            return None
        return ident

    def on_config(self, msg: DeviceConfig) -> None:
        """The office's vehicle list (stored tares): kept locally, used offline."""
        with self.outbox.transaction() as db:
            kept = self.outbox.get_state("config:vehicles", db)
            if kept is not None and kept["revision"] >= msg.revision:
                return
            self.outbox.set_state(
                db,
                "config:vehicles",
                {
                    "revision": msg.revision,
                    "vehicles": [v.model_dump(mode="json") for v in msg.vehicles],
                },
            )
        log.info("edge_agent.config", revision=msg.revision, vehicles=len(msg.vehicles))

    def stored_tare(self, ident: Identification) -> tuple[Decimal, str] | None:
        """A valid stored tare for the vehicle, from the office's list."""
        kept = self.outbox.get_state("config:vehicles") or {"vehicles": []}
        today = self.clock.now().date().isoformat()
        for v in kept["vehicles"]:
            match = (ident.kind == "card" and v.get("rfid_card") == ident.value) or (
                ident.kind == "plate"
                and v.get("plate")
                and plate_key(v["plate"]) == plate_key(ident.value)
            )
            if match and (v.get("valid_until") is None or v["valid_until"] >= today):
                return Decimal(v["stored_tare"]), v.get("unit", "kg")
        return None

    def _try_capture(self) -> None:
        if self.last_stable is None:
            return
        reading, at, at_mono = self.last_stable
        if self.clock.monotonic() - at_mono > STALE_AFTER_S:
            self.last_stable = None
            return
        ident = self._fresh_identification()
        if ident is None:
            if not self._waiting_logged:
                self.last_event = "vehicle on the bridge: present a card or enter the plate"
                log.info("edge_agent.waiting_for_identification", weight=str(reading.weight))
                self._waiting_logged = True
            return
        assert reading.weight is not None and reading.unit is not None
        this = {
            "at": at.isoformat(),
            "weight": str(reading.weight),
            "unit": reading.unit,
            "alibi_id": reading.extra.get("alibi_id") if reading.extra else None,
        }
        key = f"open:{ident.key}"
        stored = self.stored_tare(ident) if self.cfg.single_pass_with_stored_tare else None
        with self.outbox.transaction() as db:
            first = self.outbox.get_state(key, db)
            if first is not None and self._expired(first):
                log.warning("edge_agent.open_weighing_expired", vehicle=ident.key, first=first)
                first = None
            if first is not None and first["unit"] != reading.unit:
                log.error("edge_agent.unit_mismatch", first=first, second=this)
                first = None
            single = (
                first is None
                and stored is not None
                and stored[1] == reading.unit
                and reading.weight > stored[0]
            )
            if first is None and not single:
                self.outbox.set_state(
                    db, key, {**this, "ident_kind": ident.kind, "ident": ident.value}
                )
                self.last_event = f"first weighing {reading.weight} {reading.unit} ({ident.value})"
            else:
                n = self.outbox.next_counter(db, f"ticket:{self.cfg.instrument_id}")
                number = f"{self.cfg.ticket_prefix}-{n:06d}"
                fields = self._fields(number, first, this, ident, stored if single else None)
                doc = ticket_text(fields, device_id=self.device_id).encode()
                digest = hashlib.sha256(doc).hexdigest()
                if self.files is not None:
                    self.files.keep(
                        db,
                        data=doc,
                        sha256=digest,
                        content_type="text/plain",
                        kind="ticket",
                        filename=f"{number}.txt",
                    )
                ticket = self.outbox.append(
                    lambda seq, mid: WeighingTicket(
                        message_id=mid,
                        device_id=self.device_id,
                        seq=seq,
                        occurred_at=self.clock.now(),
                        document_sha256=digest if self.files is not None else None,
                        **fields,
                    ),
                    db,
                )
                self.outbox.set_state(db, key, None)
                self.tickets += 1
                kind = " (stored tare)" if single else ""
                self.last_event = f"ticket {number}: net {ticket.net} {ticket.unit}{kind}"  # type: ignore[attr-defined]
        self._ident_used = True
        self.captured = True
        log.info("edge_agent.weighing", detail=self.last_event)

    def _expired(self, first: dict[str, Any]) -> bool:
        at = datetime.fromisoformat(first["at"])
        return self.clock.now() - at > timedelta(hours=self.cfg.open_weighing_max_h)

    def _fields(
        self,
        number: str,
        first: dict[str, Any] | None,
        this: dict[str, Any],
        ident: Identification,
        stored: tuple[Decimal, str] | None,
    ) -> dict[str, Any]:
        """The ticket's contents: two passes (measured tare) or one pass with a stored tare."""
        common = {
            "ticket_number": number,
            "instrument_id": self.cfg.instrument_id,
            "alibi_id": this.get("alibi_id"),
            "unit": this["unit"],
            "plate": ident.value if ident.kind == "plate" else None,
            "rfid_card": ident.value if ident.kind == "card" else None,
        }
        w = Decimal(this["weight"])
        if first is None:
            assert stored is not None
            return {
                **common,
                "first": WeighingPass(at=this["at"], weight=w, alibi_id=this.get("alibi_id")),
                "second": None,
                "gross": w,
                "tare": stored[0],
                "net": w - stored[0],
                "tare_kind": "stored",
            }
        w1 = Decimal(first["weight"])
        gross, tare = max(w1, w), min(w1, w)
        return {
            **common,
            "first": WeighingPass(at=first["at"], weight=w1, alibi_id=first.get("alibi_id")),
            "second": WeighingPass(at=this["at"], weight=w, alibi_id=this.get("alibi_id")),
            "gross": gross,
            "tare": tare,
            "net": gross - tare,
            "tare_kind": "measured",
        }


def ticket_text(f: dict[str, Any], *, device_id: str) -> str:
    """The weighing ticket (weegbon) as kept on the terminal and uploaded with the order: weight,
    date and time, the installation, the vehicle and the alibi record numbers."""
    unit = f["unit"]

    def when(p: WeighingPass) -> str:
        return p.at.astimezone().strftime("%d-%m-%Y %H:%M:%S %Z")

    def weighing(label: str, p: WeighingPass) -> str:
        return f"{label:<18}{p.weight} {unit}  {when(p)}  alibi {p.alibi_id or '-'}"

    tare_kind = "gewogen" if f["tare_kind"] == "measured" else "vaste tarra"
    lines = [
        "WEEGBON / WEIGHING TICKET",
        f"Bonnummer:        {f['ticket_number']}",
        f"Weeginstallatie:  {f['instrument_id']} (terminal {device_id})",
        f"Kenteken:         {f['plate'] or '-'}",
        f"Pas (RFID):       {f['rfid_card'] or '-'}",
        weighing("1e weging:", f["first"]),
    ]
    if f["second"] is not None:
        lines.append(weighing("2e weging:", f["second"]))
    lines += [
        f"Bruto:            {f['gross']} {unit}",
        f"Tarra:            {f['tare']} {unit}  ({tare_kind})",
        f"Netto:            {f['net']} {unit}",
    ]
    return "\n".join(lines) + "\n"
