"""The local page the agent serves: a weighbridge terminal (touch screen at the bridge) or the
driver's page (phone or tablet on the truck's Wi-Fi). Standard library only: a small threaded
HTTP server whose handlers hand every action to the agent loop (``Agent.call``), so workflows
stay single-threaded. Works offline: nothing here needs the cloud."""

from __future__ import annotations

import hmac
import json
import re
import socket
import threading
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import structlog

from edge_agent.config import parse_listen
from edge_agent.images import ImageRejected
from edge_agent.workflows.driver_orders import OrderFormError
from edge_agent.workflows.onboard import JobError
from firmware_profiles.base import Unit

if TYPE_CHECKING:
    from edge_agent.agent import Agent

log = structlog.get_logger("edge_agent.terminal")
STATIC = Path(__file__).with_name("static")
MAX_BODY = 16 * 2**20
MANUAL_UNITS: dict[str, Unit] = {"kg": "kg", "t": "t", "lb": "lb", "g": "g"}
TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"]*")
JOB_ACTION = re.compile(r"^/api/jobs/(?P<job>[^/]{1,64})/(?P<action>[a-z]+)$")
ASSETS = {
    "/terminal.css": ("terminal.css", "text/css; charset=utf-8"),
    "/driver.js": ("driver.js", "text/javascript; charset=utf-8"),
    "/weighbridge.js": ("weighbridge.js", "text/javascript; charset=utf-8"),
}
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The pages run only their own script files: no inline script, no other origin."""


class BadRequest(ValueError):
    pass


def _num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def state(agent: Agent) -> dict[str, Any]:
    """Everything the page shows; runs on the agent loop."""
    st = agent.outbox.stats()
    out: dict[str, Any] = {
        "device_id": agent.cfg.device_id,
        "connected": bool(agent.uplink and agent.uplink.connected),
        "outbox": {"backlog": st.backlog, "bytes": st.bytes, "alarm": st.alarm},
        "uploads_pending": agent.files.pending(),
        "ports": [
            {
                "name": r.state.name,
                "role": r.state.role,
                "connected": r.state.connected,
                "frames_bad": r.state.frames_bad,
                "last_error": r.state.last_error,
            }
            for r in agent.readers
        ],
    }
    if agent.weighbridge:
        wb = agent.weighbridge
        shown = wb.current  # (reading, stable)
        out["role"] = "weighbridge"
        out["weighbridge"] = {
            "weight": _num(shown[0].weight) if shown else None,
            "unit": shown[0].unit if shown else None,
            "stable": shown[1] if shown else False,
            "condition": shown[0].condition if shown else "error",
            "last_event": wb.last_event,
            "identification": wb.identification.value if wb.identification else None,
            "open_weighings": wb.open_weighings(),
            "tickets": wb.tickets,
        }
    if agent.onboard:
        ob = agent.onboard
        latest = ob.current  # (reading, monotonic time it came)
        out["role"] = "onboard"
        out["onboard"] = {
            "weight": _num(latest[0].weight) if latest else None,
            "unit": latest[0].unit if latest else None,
            "stable": bool(ob.last_stable and latest and ob.last_stable[0] is latest[0]),
            "bin_tag": ob.bin_tag.tag_id if ob.bin_tag else None,
            "lifts": ob.lifts,
            "jobs": ob.jobs(),
            "orders": agent.driver_orders.recent() if agent.driver_orders else [],
        }
    return out


class Handler(BaseHTTPRequestHandler):
    server: TerminalHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:
        # The request line carries the page's ``?token=``: never write it to a log.
        log.debug("edge_agent.terminal_request", line=TOKEN_IN_QUERY.sub(r"\1***", fmt % args))

    # -- plumbing --------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, *, csp: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if csp:
            self.send_header("Content-Security-Policy", csp)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, default=str).encode(), "application/json")

    def _authorized(self) -> bool:
        token = self.server.token
        if not token:
            return True
        given = (
            self.headers.get("X-Terminal-Token")
            or parse_qs(urlparse(self.path).query).get("token", [""])[0]
        )
        return hmac.compare_digest(given.encode(), token.encode())

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise BadRequest(f"body of {length} bytes is over {MAX_BODY}")
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> dict[str, Any]:
        raw = self._body()
        try:
            data = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            raise BadRequest(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadRequest("expected a JSON object")
        return data

    # -- routes ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if path in ("/", "/index.html"):
            page = "weighbridge.html" if self.server.agent.weighbridge else "driver.html"
            self._send(200, (STATIC / page).read_bytes(), "text/html; charset=utf-8", csp=PAGE_CSP)
        elif path in ASSETS:
            name, ctype = ASSETS[path]
            self._send(200, (STATIC / name).read_bytes(), ctype)
        elif path == "/healthz":
            self._json(200, {"status": "ok"})
        elif not self._authorized():
            self._json(401, {"error": "Unauthorized", "detail": "terminal token required"})
        elif path == "/api/state":
            self._json(200, self.server.agent.call(lambda: state(self.server.agent)))
        else:
            self._json(404, {"error": "NotFound", "detail": path})

    def do_POST(self) -> None:
        path = urlparse(self.path).path
        if not self._authorized():
            self._json(401, {"error": "Unauthorized", "detail": "terminal token required"})
            return
        agent = self.server.agent
        try:
            if path == "/api/plate" and agent.weighbridge:
                plate = str(self._json_body().get("plate", "")).strip()
                if not re.fullmatch(r"[A-Za-z0-9 -]{2,16}", plate):
                    raise BadRequest("a plate is 2-16 letters, digits, spaces or dashes")
                wb = agent.weighbridge
                agent.call(lambda: wb.on_plate(plate))
                self._json(200, {"ok": True})
                return
            if path == "/api/orders" and agent.driver_orders:
                orders = agent.driver_orders
                form = self._json_body()
                self._json(200, {"ok": True, "result": agent.call(lambda: orders.submit(form))})
                return
            m = JOB_ACTION.match(path)
            if m and agent.onboard:
                result = self._job_action(m["job"], m["action"])
                self._json(200, {"ok": True, "result": result})
                return
            self._json(404, {"error": "NotFound", "detail": path})
        except (BadRequest, JobError, ImageRejected, OrderFormError) as exc:
            self._json(422, {"error": type(exc).__name__, "detail": str(exc)})
        except Exception as exc:
            log.exception("edge_agent.terminal_error", path=path)
            self._json(500, {"error": type(exc).__name__, "detail": str(exc)})

    def _job_action(self, job_id: str, action: str) -> Any:
        agent = self.server.agent
        ob = agent.onboard
        assert ob is not None
        if action == "photo":
            data = self._body()
            return agent.call(lambda: ob.add_photo(job_id, data)).model_dump(mode="json")
        body = self._json_body()
        if action == "arrive":
            return agent.call(lambda: ob.arrive(job_id))
        if action == "start":
            return agent.call(lambda: ob.start(job_id))
        if action == "weight":
            manual = body.get("manual")
            try:
                value = Decimal(str(manual)) if manual not in (None, "") else None
            except InvalidOperation:
                raise BadRequest(f"weight {manual!r} is not a number") from None
            unit = MANUAL_UNITS.get(str(body.get("unit", "kg")))
            if unit is None:
                raise BadRequest("unit is kg, t, lb or g")
            return agent.call(lambda: ob.record_weight(job_id, manual=value, unit=unit))
        if action == "counts":
            counts = body.get("counts")
            if not isinstance(counts, dict) or not all(
                isinstance(k, str) and re.fullmatch(r"[a-z_]{1,32}", k) for k in counts
            ):
                raise BadRequest("counts is an object of lower_case names to whole numbers")
            return agent.call(lambda: ob.set_counts(job_id, counts))
        if action == "notes":
            notes = str(body.get("notes", ""))
            return agent.call(lambda: ob.set_notes(job_id, notes))
        if action == "sign":
            strokes = body.get("strokes")
            signer = str(body.get("signer", ""))
            if not isinstance(strokes, list):
                raise BadRequest("strokes is a list of lists of [x, y]")
            try:
                pts = [[(float(p[0]), float(p[1])) for p in stroke] for stroke in strokes]
            except (TypeError, ValueError, IndexError):
                raise BadRequest("strokes is a list of lists of [x, y] numbers") from None
            return agent.call(lambda: ob.sign(job_id, signer=signer, strokes=pts)).model_dump(
                mode="json"
            )
        if action == "complete":
            return agent.call(lambda: ob.complete(job_id))
        if action == "fail":
            reason = str(body.get("reason", ""))
            return agent.call(lambda: ob.fail(job_id, reason))
        raise BadRequest(f"unknown action {action!r}")


class TerminalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], agent: Agent, token: str | None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.agent = agent
        self.token = token


class TerminalServer:
    def __init__(self, agent: Agent, listen: str) -> None:
        # Parsed like the config validator did (which refused a non-loopback address without a
        # token); an empty host is loopback, never every interface.
        address = parse_listen(listen)
        token = agent.cfg.terminal_token.get_secret_value() if agent.cfg.terminal_token else None
        self.httpd = TerminalHTTPServer(address, agent, token)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="terminal", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self.thread.start()
        log.info("edge_agent.terminal_listening", port=self.port)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
