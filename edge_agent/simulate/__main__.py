"""``python -m edge_agent.simulate --profile NAME --listen socket://127.0.0.1:PORT
--scenario truck-in-out|noise [--rfid-listen socket://127.0.0.1:PORT2] ...``

Streams the indicator's frames at ``--rate`` Hz to every connected client, with occasional
corrupt frames (``--corrupt-rate``); with ``--rfid-listen`` it also serves an EM4100 card
reader that reads each truck's card as it drives on."""

from __future__ import annotations

import argparse
import random
import signal
import socket
import sys
import threading
import time
from urllib.parse import urlparse

from edge_agent.simulate.encoders import ENCODERS, corrupt
from edge_agent.simulate.scenarios import SCENARIOS, play
from firmware_profiles.rfid_em4100 import encode_frame as em4100_frame


class Broadcaster:
    """A TCP listener that sends every chunk to all connected clients."""

    def __init__(self, url: str) -> None:
        u = urlparse(url)
        if u.scheme != "socket" or not u.port:
            raise SystemExit(f"--listen takes socket://host:port, got {url!r}")
        self.sock = socket.create_server((u.hostname or "127.0.0.1", u.port), reuse_port=False)
        self.clients: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.clients.append(conn)

    def send(self, data: bytes) -> None:
        with self.lock:
            for c in list(self.clients):
                try:
                    c.sendall(data)
                except OSError:
                    self.clients.remove(c)
                    c.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edge_agent.simulate")
    p.add_argument("--profile", required=True, choices=sorted(ENCODERS))
    p.add_argument("--listen", required=True, help="socket://127.0.0.1:PORT")
    p.add_argument("--scenario", default="truck-in-out", choices=sorted(SCENARIOS))
    p.add_argument("--rfid-listen", help="also serve an EM4100 card reader here")
    p.add_argument("--rate", type=float, default=10.0, help="frames per second")
    p.add_argument("--speed", type=float, default=1.0, help="time factor (2 = twice as fast)")
    p.add_argument("--corrupt-rate", type=float, default=0.01)
    p.add_argument("--cycles", type=int, default=0, help="0 = forever")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="start the scenario at once, not when the first client connects",
    )
    args = p.parse_args(argv)

    rng = random.Random(args.seed)
    encode = ENCODERS[args.profile]
    scale = Broadcaster(args.listen)
    rfid = Broadcaster(args.rfid_listen) if args.rfid_listen else None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"simulating {args.profile} ({args.scenario}) on {args.listen}", flush=True)

    if not args.no_wait:  # so a test or demo sees the scenario from its beginning
        while not stop.is_set() and not (scale.clients and (rfid is None or rfid.clients)):
            stop.wait(0.05)
        stop.wait(0.3)  # pyserial drops what is pending when it opens the port
    cycle = 0
    start = time.monotonic()
    elapsed = 0.0
    while not stop.is_set() and (args.cycles == 0 or cycle < args.cycles):
        last_t = 0.0
        for t, state, card in play(SCENARIOS[args.scenario](), rate_hz=args.rate, rng=rng):
            due = start + (elapsed + t) / args.speed
            delay = due - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            if card and rfid:
                rfid.send(em4100_frame(card))
            frame = encode(state)
            if rng.random() < args.corrupt_rate:
                frame = corrupt(frame, rng)
            scale.send(frame)
            last_t = t
        elapsed += last_t + 1.0 / args.rate
        cycle += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
