"""The uploader against a real HTTP server: transient failures back off briefly, refusals the
cloud will repeat (409: the file belongs to another device or order) are kept and retried daily."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edge_agent.outbox import Outbox
from edge_agent.uploads import REFUSED_RETRY_S, FileStore, Uploader

pytestmark = pytest.mark.integration


class _Answer(BaseHTTPRequestHandler):
    status = 200

    def do_PUT(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        body = b'{"error":"DocumentOwnedByOther","detail":"x"}'
        self.send_response(type(self).status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Answer]]]:
    handler = type("Handler", (_Answer,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()


def _queue(tmp_path: Path) -> FileStore:
    files = FileStore(Outbox(tmp_path / "o.db"))
    data = b"%PDF-1.4 ticket"
    with files.outbox.transaction() as db:
        files.keep(
            db,
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
            content_type="application/pdf",
            kind="ticket",
            filename="t.pdf",
        )
    return files


def _next_try(files: FileStore) -> float:
    with files.outbox.transaction() as db:
        return float(db.execute("SELECT next_try_at FROM uploads").fetchone()[0])


@pytest.mark.parametrize(("status", "final"), [(409, True), (422, True), (503, False)])
def test_refusals_are_kept_and_retried_daily_transient_errors_soon(
    tmp_path: Path, server: tuple[str, type[_Answer]], status: int, final: bool
) -> None:
    url, handler = server
    handler.status = status
    files = _queue(tmp_path)
    up = files.due()[0]
    uploader = Uploader(files, api_url=url, device_id="truck-1", password="pw")
    assert uploader.upload_one(up) is False
    assert files.pending() == 1 and Path(up.path).exists()  # nothing lost
    wait = _next_try(files) - time.time()
    if final:
        assert wait > REFUSED_RETRY_S - 60
    else:
        assert wait < 700


def test_accepted_upload_removes_the_file(
    tmp_path: Path, server: tuple[str, type[_Answer]]
) -> None:
    url, handler = server
    handler.status = 200
    files = _queue(tmp_path)
    up = files.due()[0]
    assert Uploader(files, api_url=url, device_id="truck-1", password="pw").upload_one(up)
    assert files.pending() == 0 and not Path(up.path).exists()
