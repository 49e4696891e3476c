"""The truck: today's jobs, kept locally so the driver can work offline, and what the driver
records for each (arrival, weights from the on-board scale or bin lifts, counts, notes, photos,
a signature), ending in a ``ProofOfDelivery`` and a ``JobUpdate`` committed to the outbox in
one transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog

from edge_agent.clock import Clock
from edge_agent.config import OnboardConfig
from edge_agent.images import PreparedImage, prepare_photo, render_signature
from edge_agent.outbox import Outbox
from edge_agent.uploads import FileStore
from firmware_profiles import Reading
from firmware_profiles.base import Unit
from protocols import (
    Attachment,
    JobDispatch,
    JobEvent,
    JobUpdate,
    JobWeight,
    ProofOfDelivery,
    WeightSource,
)
from protocols.normalize import to_kg

log = structlog.get_logger("edge_agent.onboard")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id     TEXT PRIMARY KEY,
    revision   INTEGER NOT NULL,
    job        TEXT,
    status     TEXT NOT NULL,
    counts     TEXT NOT NULL DEFAULT '{}',
    weights    TEXT NOT NULL DEFAULT '[]',
    notes      TEXT,
    photos     TEXT NOT NULL DEFAULT '[]',
    signature  TEXT,
    signer     TEXT,
    updated_at TEXT NOT NULL
);
"""
OPEN = ("open", "arrived", "started")


class JobError(ValueError):
    """A driver action that cannot be done (unknown job, wrong state, no fresh weight ...)."""


@dataclass
class BinTag:
    tag_id: str
    at_mono: float


class OnboardWorkflow:
    def __init__(
        self, cfg: OnboardConfig, *, outbox: Outbox, files: FileStore, device_id: str, clock: Clock
    ) -> None:
        self.cfg = cfg
        self.outbox = outbox
        self.files = files
        self.device_id = device_id
        self.clock = clock
        self.last_stable: tuple[Reading, datetime, float] | None = None
        self.current: tuple[Reading, float] | None = None
        self.bin_tag: BinTag | None = None
        self.lifts = 0
        with outbox.transaction() as db:
            db.execute(SCHEMA)

    # -- jobs from the cloud -----------------------------------------------------------

    def on_dispatch(self, msg: JobDispatch) -> None:
        with self.outbox.transaction() as db:
            row = db.execute(
                "SELECT revision, status FROM jobs WHERE job_id = ?", (msg.job_id,)
            ).fetchone()
            if msg.action == "cancel":
                if row and row[1] in OPEN:
                    db.execute(
                        "UPDATE jobs SET status = 'cancelled', updated_at = ? WHERE job_id = ?",
                        (self.clock.now().isoformat(), msg.job_id),
                    )
                return
            assert msg.job is not None
            if row and row[0] >= msg.job.revision:
                return  # an old or repeated dispatch
            job_json = msg.job.model_dump_json()
            if row:
                db.execute(
                    "UPDATE jobs SET revision = ?, job = ?, updated_at = ? WHERE job_id = ?",
                    (msg.job.revision, job_json, self.clock.now().isoformat(), msg.job_id),
                )
            else:
                db.execute(
                    "INSERT INTO jobs (job_id, revision, job, status, updated_at) "
                    "VALUES (?, ?, ?, 'open', ?)",
                    (msg.job_id, msg.job.revision, job_json, self.clock.now().isoformat()),
                )
        log.info("edge_agent.job_received", job_id=msg.job_id, action=msg.action)

    def jobs(self, *, include_done: bool = True) -> list[dict[str, Any]]:
        with self.outbox.transaction() as db:
            rows = db.execute(
                "SELECT job_id, revision, job, status, counts, weights, notes, photos, signature, "
                "signer FROM jobs"
            ).fetchall()
        out = []
        for r in rows:
            job = json.loads(r[2]) if r[2] else {}
            item = {
                "job_id": r[0],
                "revision": r[1],
                "job": job,
                "status": r[3],
                "counts": json.loads(r[4]),
                "weights": json.loads(r[5]),
                "notes": r[6],
                "photos": json.loads(r[7]),
                "signature": json.loads(r[8]) if r[8] else None,
                "signer": r[9],
            }
            if include_done or item["status"] in OPEN:
                out.append(item)
        out.sort(
            key=lambda j: (
                j["job"].get("planned_date", ""),
                j["job"].get("sequence", 0),
                j["job_id"],
            )
        )
        return out

    # -- sensors -------------------------------------------------------------------------

    def on_weight(self, reading: Reading, *, stable: bool, at: datetime) -> None:
        now = self.clock.monotonic()
        if reading.condition != "ok" or reading.weight is None or reading.unit is None:
            self.current = None
            self.last_stable = None
            return
        self.current = (reading, now)
        if not stable:
            return
        self.last_stable = (reading, at, now)
        tag = self.bin_tag
        if (
            tag
            and now - tag.at_mono <= self.cfg.bin_lift_window_s
            and to_kg(reading.weight, reading.unit) >= Decimal(str(self.cfg.min_lift_kg))
        ):
            self.bin_tag = None
            active = self._active_job()
            if active is None:
                log.warning(
                    "edge_agent.lift_without_job", tag=tag.tag_id, weight=str(reading.weight)
                )
                return
            self._add_weight(active, reading, at, tag_id=tag.tag_id, source="scale")
            self.lifts += 1

    def on_tag(self, tag_id: str) -> None:
        self.bin_tag = BinTag(tag_id, self.clock.monotonic())

    def on_port_lost(self) -> None:
        self.current = None
        self.last_stable = None

    def on_motion(self) -> None:
        """The indicator reports motion instead of a weight (Toledo 8217 ``?A``): the last
        stable weight no longer holds, so the driver cannot record it."""
        self.last_stable = None

    # -- driver actions ------------------------------------------------------------------

    def arrive(
        self, job_id: str, *, lat: Decimal | None = None, lon: Decimal | None = None
    ) -> None:
        self._event(job_id, "arrived", from_=("open",), lat=lat, lon=lon)

    def start(self, job_id: str) -> None:
        self._event(job_id, "started", from_=("open", "arrived"))

    def record_weight(
        self, job_id: str, *, manual: Decimal | None = None, unit: Unit = "kg"
    ) -> dict[str, Any]:
        """The scale's stable weight now, or a typed one (marked manual). Never invented."""
        self._job(job_id, states=OPEN)
        if manual is not None:
            if manual < 0:
                raise JobError("a weight cannot be negative")
            r = Reading(kind="weight", weight=manual, unit=unit, stable=True, mode="net")
            return self._add_weight(job_id, r, self.clock.now(), tag_id=None, source="manual")
        if self.last_stable is None:
            raise JobError("the scale shows no stable weight")
        reading, at, mono = self.last_stable
        if self.clock.monotonic() - mono > self.cfg.weight_fresh_s:
            raise JobError("the last stable weight is too old; weigh again")
        return self._add_weight(job_id, reading, at, tag_id=None, source="scale")

    def set_counts(self, job_id: str, counts: dict[str, int]) -> None:
        if any((not isinstance(v, int)) or v < 0 for v in counts.values()):
            raise JobError("counts are whole numbers of zero or more")
        self._update(job_id, counts=json.dumps(counts))

    def set_notes(self, job_id: str, notes: str) -> None:
        self._update(job_id, notes=notes[:2000])

    def add_photo(self, job_id: str, data: bytes) -> Attachment:
        job = self._job(job_id, states=OPEN)
        img = prepare_photo(data)
        att = img.attachment(f"photo-{len(job['photos']) + 1}.jpg")
        with self.outbox.transaction() as db:
            self._keep(db, img, att, kind="photo")
            photos = [*job["photos"], att.model_dump(mode="json")]
            self._set(db, job_id, photos=json.dumps(photos))
        return att

    def sign(
        self, job_id: str, *, signer: str, strokes: Sequence[Sequence[tuple[float, float]]]
    ) -> Attachment:
        self._job(job_id, states=OPEN)
        img = render_signature(strokes)
        att = img.attachment("signature.png")
        with self.outbox.transaction() as db:
            self._keep(db, img, att, kind="signature")
            signer_name = signer.strip()[:120] or None
            self._set(db, job_id, signature=att.model_dump_json(), signer=signer_name)
        return att

    def _keep(
        self, db: sqlite3.Connection, img: PreparedImage, att: Attachment, *, kind: str
    ) -> None:
        """The file waits on disk for its upload; the message will carry its sha256."""
        self.files.keep(
            db,
            data=img.data,
            sha256=img.sha256,
            content_type=img.content_type,
            kind=kind,
            filename=att.filename,
            original_sha256=img.original_sha256,
        )

    def complete(self, job_id: str) -> None:
        """Proof of delivery and completion leave together: one transaction, two messages."""
        job = self._job(job_id, states=OPEN)
        now = self.clock.now()
        signature = Attachment.model_validate(job["signature"]) if job["signature"] else None
        photos = [Attachment.model_validate(p) for p in job["photos"]]
        weights = [JobWeight.model_validate(w) for w in job["weights"]]
        with self.outbox.transaction() as db:
            self.outbox.append(
                lambda seq, mid: ProofOfDelivery(
                    message_id=mid,
                    device_id=self.device_id,
                    seq=seq,
                    occurred_at=now,
                    job_id=job_id,
                    signer_name=job["signer"],
                    signed_at=now if signature else None,
                    signature=signature,
                    photos=photos,
                    notes=job["notes"],
                ),
                db,
            )
            self.outbox.append(
                lambda seq, mid: JobUpdate(
                    message_id=mid,
                    device_id=self.device_id,
                    seq=seq,
                    occurred_at=now,
                    job_id=job_id,
                    event="completed",
                    counts=job["counts"],
                    weights=weights,
                    notes=job["notes"],
                ),
                db,
            )
            self._set(db, job_id, status="completed")
        log.info(
            "edge_agent.job_completed", job_id=job_id, weights=len(weights), photos=len(photos)
        )

    def fail(self, job_id: str, reason: str) -> None:
        if not reason.strip():
            raise JobError("say why the job failed")
        self._event(job_id, "failed", from_=OPEN, reason=reason.strip()[:2000], status="failed")

    # -- internals -----------------------------------------------------------------------

    def _active_job(self) -> str | None:
        started = [j for j in self.jobs(include_done=False) if j["status"] == "started"]
        return started[-1]["job_id"] if started else None

    def _job(self, job_id: str, *, states: Sequence[str]) -> dict[str, Any]:
        for j in self.jobs():
            if j["job_id"] == job_id:
                if j["status"] not in states:
                    raise JobError(f"job {job_id} is {j['status']}")
                return j
        raise JobError(f"no job {job_id}")

    def _set(self, db: sqlite3.Connection, job_id: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        db.execute(
            f"UPDATE jobs SET {cols}, updated_at = ? WHERE job_id = ?",  # noqa: S608 - fixed names
            (*fields.values(), self.clock.now().isoformat(), job_id),
        )

    def _update(self, job_id: str, **fields: Any) -> None:
        self._job(job_id, states=OPEN)
        with self.outbox.transaction() as db:
            self._set(db, job_id, **fields)

    def _add_weight(
        self,
        job_id: str,
        reading: Reading,
        at: datetime,
        *,
        tag_id: str | None,
        source: WeightSource,
    ) -> dict[str, Any]:
        assert reading.weight is not None and reading.unit is not None
        w = JobWeight(
            at=at,
            value=reading.weight,
            unit=reading.unit,
            mode=reading.mode or "gross",
            source=source,
            tag_id=tag_id,
        ).model_dump(mode="json")
        job = self._job(job_id, states=OPEN)
        with self.outbox.transaction() as db:
            self._set(db, job_id, weights=json.dumps([*job["weights"], w]))
        log.info(
            "edge_agent.weight_recorded",
            job_id=job_id,
            weight=w["value"],
            tag=tag_id,
            source=source,
        )
        return w

    def _event(
        self,
        job_id: str,
        event: JobEvent,
        *,
        from_: Sequence[str],
        status: str | None = None,
        **fields: Any,
    ) -> None:
        self._job(job_id, states=from_)
        now = self.clock.now()
        with self.outbox.transaction() as db:
            self.outbox.append(
                lambda seq, mid: JobUpdate(
                    message_id=mid,
                    device_id=self.device_id,
                    seq=seq,
                    occurred_at=now,
                    job_id=job_id,
                    event=event,
                    **fields,
                ),
                db,
            )
            self._set(db, job_id, status=status or event)
