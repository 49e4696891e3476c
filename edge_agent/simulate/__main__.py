"""``python -m edge_agent.simulate --profile NAME --listen socket://127.0.0.1:PORT
[--scenario truck-in-out|noise|bin-lifts] [--rfid-listen socket://127.0.0.1:PORT2]
[--rfid-profile rfid-em4100|rfid-fdxb|rfid-allflex] ...``

A weight indicator on a TCP port, as a serial-to-Ethernet converter would serve it. Continuous
profiles stream at ``--rate`` Hz to every client; poll profiles (mt-sics, toledo-8217, sma,
nci, rinstrum-net) answer requests. ``--corrupt-rate`` damages frames the way the agent must
catch (see ``faults``). With ``--rfid-listen`` a tag reader presents the scenario's cards or
bin tags. ``--list`` prints every simulated profile with the agent options that decode it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

from edge_agent.simulate.encoders import FORMATS, SIM_OPTIONS
from edge_agent.simulate.responders import RESPONDERS
from edge_agent.simulate.rfid import TAG_ENCODERS
from edge_agent.simulate.scenarios import SCENARIOS
from edge_agent.simulate.server import SimConfig, Simulator


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m edge_agent.simulate",
        description="Serve a simulated weight indicator (and tag reader) on TCP ports.",
    )
    p.add_argument("--profile", choices=sorted(FORMATS), help="the indicator's protocol")
    p.add_argument("--listen", help="socket://HOST:PORT (port 0: any free port, printed)")
    p.add_argument("--scenario", default="truck-in-out", choices=sorted(SCENARIOS))
    p.add_argument("--rfid-listen", help="also serve a tag reader here")
    p.add_argument(
        "--rfid-profile",
        choices=sorted(TAG_ENCODERS),
        help="the tag reader's protocol (default: rfid-em4100 for truck-in-out and noise, "
        "rfid-fdxb for bin-lifts)",
    )
    p.add_argument("--rate", type=float, default=10.0, help="frames (state changes) per second")
    p.add_argument("--speed", type=float, default=1.0, help="time factor (2 = twice as fast)")
    p.add_argument("--corrupt-rate", type=float, default=0.01, help="share of frames damaged")
    p.add_argument("--cycles", type=int, default=0, help="times to play the scenario; 0 = forever")
    p.add_argument("--seed", type=int, default=None, help="for bin weights, noise and faults")
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="start the scenario at once, not when the first client connects",
    )
    p.add_argument("--list", action="store_true", help="list the simulated profiles and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.list:
        for name, fmt in FORMATS.items():
            row = {
                "profile": name,
                "mode": "poll" if name in RESPONDERS else "continuous",
                "variant": fmt.variant,
                "unit": fmt.unit,
                "checksum": fmt.checksum,
                "options": SIM_OPTIONS[name],
            }
            print(json.dumps(row))
        return 0
    if not args.profile or not args.listen:
        p.error("--profile and --listen are required")
    cfg = SimConfig(
        profile=args.profile,
        listen=args.listen,
        scenario=args.scenario,
        rfid_listen=args.rfid_listen,
        rfid_profile=args.rfid_profile,
        rate=args.rate,
        speed=args.speed,
        corrupt_rate=args.corrupt_rate,
        cycles=args.cycles,
        seed=args.seed,
        wait=not args.no_wait,
    )
    try:
        sim = Simulator(cfg)
    except (ValueError, OSError) as exc:
        p.error(str(exc))
    signal.signal(signal.SIGTERM, lambda *_: sim.stop())
    signal.signal(signal.SIGINT, lambda *_: sim.stop())
    print("\n".join(sim.describe()), flush=True)
    try:
        sim.run()
    finally:
        sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
