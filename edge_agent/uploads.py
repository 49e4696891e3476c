"""Files (photos, signatures, weighing tickets) go to the cloud API over HTTPS, not MQTT: the
message carries their sha256, the file follows with ``PUT /api/v1/device/documents/{sha256}``,
which is idempotent, so a retry after a timeout is harmless. The queue lives in the outbox file;
an upload leaves it only after the API stored the bytes."""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import structlog

from edge_agent.outbox import Outbox

log = structlog.get_logger("edge_agent.uploads")

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    sha256          TEXT PRIMARY KEY,
    path            TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    kind            TEXT NOT NULL,
    filename        TEXT NOT NULL,
    original_sha256 TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_try_at     REAL NOT NULL DEFAULT 0,
    last_error      TEXT
);
"""


FINAL_REFUSALS = frozenset({400, 403, 409, 413, 415, 422})
"""Answers that sending the same bytes again will not change (a file another device or order
owns, a file the cloud refuses): retried daily instead of every few minutes."""
REFUSED_RETRY_S = 24 * 3600.0


@dataclass(frozen=True)
class Upload:
    sha256: str
    path: str
    content_type: str
    kind: str
    filename: str
    original_sha256: str | None
    attempts: int


class FileStore:
    """Files waiting for (or done with) upload, under the outbox directory by sha256."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.root = outbox.path.parent / "files"
        self.root.mkdir(parents=True, exist_ok=True)
        with outbox.transaction() as db:
            db.execute(SCHEMA)

    def keep(
        self,
        db: sqlite3.Connection,
        *,
        data: bytes,
        sha256: str,
        content_type: str,
        kind: str,
        filename: str,
        original_sha256: str | None = None,
    ) -> Path:
        """Write the file (fsync) and queue its upload in the caller's transaction."""
        path = self.root / sha256
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(path)
        db.execute(
            "INSERT OR IGNORE INTO uploads (sha256, path, content_type, kind, filename, "
            "original_sha256) VALUES (?, ?, ?, ?, ?, ?)",
            (sha256, str(path), content_type, kind, filename, original_sha256),
        )
        return path

    def due(self, limit: int = 10) -> list[Upload]:
        with self.outbox.transaction() as db:
            rows = db.execute(
                "SELECT sha256, path, content_type, kind, filename, original_sha256, attempts "
                "FROM uploads WHERE next_try_at <= ? ORDER BY next_try_at LIMIT ?",
                (time.time(), limit),
            ).fetchall()
        return [Upload(*r) for r in rows]

    def pending(self) -> int:
        with self.outbox.transaction() as db:
            return int(db.execute("SELECT count(*) FROM uploads").fetchone()[0])

    def done(self, sha256: str) -> None:
        with self.outbox.transaction() as db:
            db.execute("DELETE FROM uploads WHERE sha256 = ?", (sha256,))
        (self.root / sha256).unlink(missing_ok=True)

    def failed(self, up: Upload, error: str, *, final: bool = False) -> None:
        """Try again later: with backoff up to 10 minutes after a transient failure, and only
        once a day after a refusal the cloud will repeat (the file is kept either way, so an
        operator or a fixed server can still take it)."""
        delay = REFUSED_RETRY_S if final else min(600.0, 2.0 ** min(up.attempts, 10))
        with self.outbox.transaction() as db:
            db.execute(
                "UPDATE uploads SET attempts = attempts + 1, next_try_at = ?, last_error = ? "
                "WHERE sha256 = ?",
                (time.time() + delay, error[:500], up.sha256),
            )


class Uploader(threading.Thread):
    def __init__(
        self,
        files: FileStore,
        *,
        api_url: str,
        device_id: str,
        password: str | None,
        timeout_s: float = 30,
    ) -> None:
        super().__init__(name="uploader", daemon=True)
        self.files = files
        self.api_url = api_url.rstrip("/")
        self.auth = "Basic " + base64.b64encode(f"{device_id}:{password or ''}".encode()).decode()
        self.timeout_s = timeout_s
        self.uploaded = 0
        self._halt = threading.Event()
        self._wake = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(2.0)
            self._wake.clear()
            try:
                for up in self.files.due():
                    if self._halt.is_set():
                        return
                    self.upload_one(up)
            except Exception:
                log.exception("edge_agent.upload_loop_failed")

    def upload_one(self, up: Upload) -> bool:
        try:
            data = Path(up.path).read_bytes()
        except OSError as exc:
            self.files.failed(up, f"local file missing: {exc}")
            return False
        query = {"kind": up.kind, "filename": up.filename}
        if up.original_sha256:
            query["original_sha256"] = up.original_sha256
        url = f"{self.api_url}/api/v1/device/documents/{up.sha256}?{urllib.parse.urlencode(query)}"
        req = urllib.request.Request(url, data=data, method="PUT")  # noqa: S310 - configured URL
        req.add_header("Content-Type", up.content_type)
        req.add_header("Authorization", self.auth)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310
                resp.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()[:300].decode("utf-8", "replace")
            final = exc.code in FINAL_REFUSALS
            self.files.failed(up, f"HTTP {exc.code}: {body}", final=final)
            log.warning(
                "edge_agent.upload_refused",
                sha256=up.sha256,
                status=exc.code,
                body=body,
                final=final,
            )
            return False
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            self.files.failed(up, str(exc))
            log.info("edge_agent.upload_retry", sha256=up.sha256, error=str(exc))
            return False
        self.files.done(up.sha256)
        self.uploaded += 1
        log.info("edge_agent.uploaded", sha256=up.sha256, kind=up.kind, bytes=len(data))
        return True
