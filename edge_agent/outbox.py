"""The durable outbox: every fact is committed here (fsync'd) before anything else happens,
and leaves only when the cloud's receipt names it.

SQLite in WAL mode with ``synchronous=FULL``: a commit survives ``kill -9`` and a power cut.
The file also holds the device's ``seq`` counter and the workflow state (open weighings,
ticket counters) so that a fact and the state change that produced it commit together.

Priorities: 0 = weighings, proof of delivery, job updates and driver-made orders (never
dropped); 2 = plain measurements. Over the disk budget, stored measurement messages are thinned
(readings dropped, the message and its ``seq`` kept) and, if that is not enough, new
measurements are refused (counted and reported); weighings, PoD, job updates and orders are
always stored.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocols import OUTBOX_TYPES, Envelope, Rejection, encode

PRIORITY = {"weighing": 0, "pod": 0, "job-update": 0, "order": 0, "measurement": 2}
assert set(PRIORITY) == OUTBOX_TYPES, "every outbox type of the contract needs a priority"
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    priority   INTEGER NOT NULL,
    payload    BLOB NOT NULL,
    size       INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_outbox_priority ON outbox (priority, seq);
CREATE TABLE IF NOT EXISTS rejected (
    seq         INTEGER PRIMARY KEY,
    message_id  TEXT NOT NULL,
    type        TEXT NOT NULL,
    payload     BLOB NOT NULL,
    reason      TEXT NOT NULL,
    rejected_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class OutboxFull(Exception):
    """A plain measurement was refused because the disk budget is used up."""


@dataclass(frozen=True)
class Pending:
    seq: int
    message_id: str
    type: str
    payload: bytes


@dataclass(frozen=True)
class OutboxStats:
    backlog: int
    bytes: int
    budget_bytes: int
    alarm: bool
    thinned: int
    refused: int
    last_seq: int


Builder = Callable[[int, uuid.UUID], Envelope]
"""Builds a message given its ``seq`` and ``message_id``."""


class Outbox:
    def __init__(
        self, path: str | Path, *, budget_bytes: int = 256 * 2**20, alarm_ratio: float = 0.8
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.budget_bytes = budget_bytes
        self.alarm_ratio = alarm_ratio
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(SCHEMA)
        self._bytes = self._db.execute("SELECT coalesce(sum(size), 0) FROM outbox").fetchone()[0]

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the outbox file; the commit is fsync'd (synchronous=FULL)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def pragma(self, name: str) -> Any:
        with self._lock:
            return self._db.execute(f"PRAGMA {name}").fetchone()[0]

    # -- counters and small state ----------------------------------------------------------

    def _meta(self, db: sqlite3.Connection, key: str, default: int = 0) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _set_meta(self, db: sqlite3.Connection, key: str, value: int) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def next_counter(self, db: sqlite3.Connection, key: str) -> int:
        """Increment and return a named counter (ticket numbers) inside a transaction."""
        n = self._meta(db, key) + 1
        self._set_meta(db, key, n)
        return n

    def get_state(self, key: str, db: sqlite3.Connection | None = None) -> Any:
        with self._lock:
            row = (
                (db or self._db).execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            )
        return json.loads(row[0]) if row else None

    def set_state(self, db: sqlite3.Connection, key: str, value: Any) -> None:
        if value is None:
            db.execute("DELETE FROM state WHERE key = ?", (key,))
        else:
            db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    def last_seq(self) -> int:
        with self._lock:
            return self._meta(self._db, "seq")

    # -- appending ---------------------------------------------------------------------------

    def append(self, build: Builder, db: sqlite3.Connection | None = None) -> Envelope:
        """Store one message. Inside ``transaction()`` pass its connection so the message
        commits together with the caller's state changes."""
        if db is not None:
            return self._append(db, build)
        error: OutboxFull | None = None
        with self.transaction() as tx:
            try:
                return self._append(tx, build)
            except OutboxFull as exc:
                error = exc  # commit the thinning and the refusal count, then raise
        raise error

    def append_many(self, builders: Iterable[Builder]) -> list[Envelope]:
        """Store several messages in one transaction (one fsync)."""
        with self.transaction() as tx:
            out = []
            for b in builders:
                try:
                    out.append(self._append(tx, b))
                except OutboxFull:
                    continue
            return out

    def _append(self, db: sqlite3.Connection, build: Builder) -> Envelope:
        seq = self._meta(db, "seq") + 1
        msg = build(seq, uuid.uuid4())
        if msg.seq != seq:
            raise ValueError(f"builder ignored the seq it was given ({msg.seq} != {seq})")
        priority = PRIORITY[msg.type]
        payload = encode(msg)
        if priority > 0 and self._bytes + len(payload) > self.budget_bytes:
            self._thin(db, len(payload))
            if self._bytes + len(payload) > self.budget_bytes:
                self._set_meta(db, "refused", self._meta(db, "refused") + 1)
                raise OutboxFull(f"outbox budget of {self.budget_bytes} bytes used up")
        db.execute(
            "INSERT INTO outbox (seq, message_id, type, priority, payload, size, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, str(msg.message_id), msg.type, priority, payload, len(payload), time.time()),
        )
        self._set_meta(db, "seq", seq)
        self._bytes += len(payload)
        return msg

    def _thin(self, db: sqlite3.Connection, need: int) -> None:
        """Halve the readings of the oldest measurement messages until ``need`` bytes fit.
        Messages and their seq stay, so the cloud still sees a gap-free sequence."""
        rows = db.execute(
            "SELECT seq, payload, size FROM outbox WHERE priority > 0 ORDER BY seq LIMIT 500"
        ).fetchall()
        thinned = 0
        for seq, payload, size in rows:
            if self._bytes + need <= self.budget_bytes:
                break
            data = json.loads(payload)
            readings = data.get("readings", [])
            if len(readings) <= 1:
                continue
            keep = readings[::2]
            thinned += len(readings) - len(keep)
            data["readings"] = keep
            new = json.dumps(data, separators=(",", ":")).encode()
            db.execute(
                "UPDATE outbox SET payload = ?, size = ? WHERE seq = ?", (new, len(new), seq)
            )
            self._bytes += len(new) - size
        if thinned:
            self._set_meta(db, "thinned", self._meta(db, "thinned") + thinned)

    # -- draining ----------------------------------------------------------------------------

    def pending(
        self, *, limit: int, after_seq: int = 0, exclude: Sequence[str] = ()
    ) -> list[Pending]:
        """Oldest first (seq order keeps each stream in order)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, message_id, type, payload FROM outbox WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (after_seq, limit + len(exclude)),
            ).fetchall()
        skip = set(exclude)
        return [Pending(*r) for r in rows if r[1] not in skip][:limit]

    def acknowledge(self, message_ids: Iterable[str]) -> int:
        """The cloud committed these: delete them. Returns how many were here."""
        ids = [str(m) for m in message_ids]
        if not ids:
            return 0
        with self.transaction() as db:
            n = 0
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                where = f"WHERE message_id IN ({marks})"
                freed = db.execute(
                    f"SELECT coalesce(sum(size), 0), count(*) FROM outbox {where}",  # noqa: S608
                    chunk,
                ).fetchone()
                db.execute(f"DELETE FROM outbox {where}", chunk)  # noqa: S608
                self._bytes -= freed[0]
                n += freed[1]
            return n

    def reject(self, rejections: Iterable[Rejection]) -> int:
        """The cloud refused these for good: keep them aside (never silently dropped) and stop
        sending them."""
        items = list(rejections)
        if not items:
            return 0
        with self.transaction() as db:
            n = 0
            for r in items:
                row = db.execute(
                    "SELECT seq, message_id, type, payload, size FROM outbox WHERE message_id = ?",
                    (str(r.message_id),),
                ).fetchone()
                if row is None:
                    continue
                db.execute(
                    "INSERT OR REPLACE INTO rejected (seq, message_id, type, payload, reason, "
                    "rejected_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (row[0], row[1], row[2], row[3], r.reason, time.time()),
                )
                db.execute("DELETE FROM outbox WHERE seq = ?", (row[0],))
                self._bytes -= row[4]
                n += 1
            return n

    def rejected(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, message_id, type, reason, rejected_at FROM rejected ORDER BY seq"
            ).fetchall()
        return [
            dict(zip(("seq", "message_id", "type", "reason", "rejected_at"), r, strict=True))
            for r in rows
        ]

    def stats(self) -> OutboxStats:
        with self._lock:
            backlog = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            return OutboxStats(
                backlog=backlog,
                bytes=self._bytes,
                budget_bytes=self.budget_bytes,
                alarm=self._bytes >= self.alarm_ratio * self.budget_bytes,
                thinned=self._meta(self._db, "thinned"),
                refused=self._meta(self._db, "refused"),
                last_seq=self._meta(self._db, "seq"),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _chunks(items: Sequence[str], n: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
