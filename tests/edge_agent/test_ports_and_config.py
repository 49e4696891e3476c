from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from edge_agent.config import ConfigError, PortConfig, load_config
from edge_agent.ports import PortReader
from edge_agent.stability import StabilityDetector
from firmware_profiles import Reading
from firmware_profiles.toledo_continuous import encode_frame

pytestmark = pytest.mark.unit


class OneShotServer:
    """A serial-to-Ethernet converter stand-in: sends bytes to the first client, then closes."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.chunks = chunks
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        time.sleep(0.1)  # pyserial drops what is pending when it opens the port
        for c in self.chunks:
            conn.sendall(c)
            time.sleep(0.01)
        time.sleep(0.2)
        conn.close()
        self.sock.close()


def test_reader_counts_bad_frames_and_reports_the_lost_port() -> None:
    good = encode_frame(12340, increment=2)
    bad = bytearray(good)
    bad[6] ^= 0x01  # a digit flipped on the line
    server = OneShotServer([b"\x00garbage", good, bytes(bad), good[:7], good[7:], good])
    got: list[Reading] = []
    lost: list[str] = []
    cfg = PortConfig(
        name="bridge",
        url=f"socket://127.0.0.1:{server.port}",
        profile="toledo-continuous",
        role="weighbridge",
        options={"checksum": "required"},
    )
    reader = PortReader(
        cfg, on_reading=lambda _n, r, _a: got.append(r), on_lost=lambda _n, why: lost.append(why)
    )
    reader.start()
    deadline = time.monotonic() + 5
    while not lost and time.monotonic() < deadline:
        time.sleep(0.02)
    reader.stop()
    reader.join(timeout=5)
    assert [str(r.weight) for r in got] == ["12340", "12340", "12340"]
    assert reader.state.frames_bad == 1 and reader.state.errors_by_kind == {"ChecksumError": 1}
    assert reader.state.bytes_discarded >= 8
    assert lost and not reader.state.connected


def test_reader_retries_a_port_that_is_not_there() -> None:
    lost: list[str] = []
    cfg = PortConfig(
        name="bridge", url="socket://127.0.0.1:9", profile="toledo-continuous", role="weighbridge"
    )
    reader = PortReader(
        cfg, on_reading=lambda *_: None, on_lost=lambda _n, why: lost.append(why), backoff_max_s=0.1
    )
    reader.start()
    time.sleep(0.5)
    reader.stop()
    reader.join(timeout=5)
    assert len(lost) >= 2 and "open failed" in lost[0]


def test_window_stability_for_formats_without_a_flag() -> None:
    from decimal import Decimal

    det = StabilityDetector(use_flag=False, count=3, window_s=1.0)
    r = lambda v: Reading(kind="weight", weight=Decimal(v), unit="kg")  # noqa: E731
    assert [det.update(r(v), t) for v, t in [("10", 0), ("20", 0.1), ("20", 0.2), ("20", 0.3)]] == [
        False,
        False,
        False,
        True,
    ]
    assert det.update(r("40"), 0.4) is False  # rocking truck
    det.reset()
    assert [det.update(r("40"), t) for t in (0, 2, 4)] == [False, False, False]  # too slow


CONFIG = """
device_id = "wb-1"
[mqtt]
url = "mqtt://127.0.0.1:1883"
[[ports]]
name = "bridge"
url = "socket://127.0.0.1:5000"
profile = "toledo-continuous"
role = "weighbridge"
options = { checksum = "required" }
"""


def test_config_loads_and_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(CONFIG)
    monkeypatch.setenv("OMS_EDGE_MQTT__URL", "mqtts://broker.example:8883")
    cfg = load_config(path)
    assert cfg.mqtt.url == "mqtts://broker.example:8883"
    assert cfg.outbox.path.is_absolute() and cfg.outbox.path.parent.parent == tmp_path / "var"


@pytest.mark.parametrize(
    "change,needle",
    [
        (("wb-1", "WB_1"), "device_id"),
        (("toledo-continuous", "toledo-telepathic"), "no profile named"),
        (('role = "weighbridge"', 'role = "gps"'), "yields"),
        (('checksum = "required"', 'checksum = "sometimes"'), "checksum must be one of"),
        (("[mqtt]", "[mqt]"), "mqt"),
        (('url = "mqtt', "url = mqtt"), "not valid TOML"),
    ],
)
def test_config_errors_are_clear(tmp_path: Path, change: tuple[str, str], needle: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(CONFIG.replace(*change))
    with pytest.raises(ConfigError, match=needle):
        load_config(path)


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edge_agent.cli import main

    path = tmp_path / "agent.toml"
    path.write_text(CONFIG)
    assert main(["check-config", str(path)]) == 0
    assert "ok" in capsys.readouterr().out
    path.write_text(CONFIG.replace("wb-1", "WB 1"))
    assert main(["check-config", str(path)]) == 1
    assert "device_id" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["weighbridge.toml", "truck.toml"])
def test_shipped_example_configs_are_valid(name: str) -> None:
    from tests.support.services import REPO

    cfg = load_config(REPO / "deploy" / "edge" / name)
    assert cfg.ports


def test_gps_positions_are_kept_by_time_and_distance() -> None:
    from decimal import Decimal

    from edge_agent.config import GpsConfig
    from edge_agent.gps import PositionSampler, distance_m

    s = PositionSampler(GpsConfig(interval_s=30, distance_m=50))
    p = lambda lat, lon: Reading(kind="position", lat=Decimal(lat), lon=Decimal(lon))  # noqa: E731
    assert s.keep(p("52.5", "6.08"), 0)  # the first one
    assert not s.keep(p("52.5001", "6.08"), 5)  # 11 m and 5 s: dropped
    assert s.keep(p("52.5006", "6.08"), 6)  # 67 m: kept
    assert not s.keep(p("52.5006", "6.08"), 20)
    assert s.keep(p("52.5006", "6.08"), 37)  # standing still, but 31 s passed
    assert (s.kept, s.dropped) == (3, 2)
    assert 110 < distance_m(Decimal(52), Decimal(6), Decimal("52.001"), Decimal(6)) < 112


def test_every_profiles_readings_fit_the_contract() -> None:
    """What a profile decodes must become a contract reading (a GPS fix with 8 decimals did
    not, once): encode a frame per kind, decode it, convert it."""
    from datetime import UTC, datetime

    from edge_agent.measurements import to_contract
    from firmware_profiles import get_profile
    from firmware_profiles.nmea0183 import encode_sentence
    from firmware_profiles.rfid_fdxb import encode_frame as fdxb

    now = datetime.now(UTC)
    rmc = encode_sentence("GPRMC,064125.4,A,5230.0005,N,00605.000,E,035.0,359.99,271126,,")
    gga = encode_sentence("GPGGA,064125.4,5230.00051,N,00605.00003,E,1,09,0.9,10.0,M,46.0,M,,")
    for profile, frame in (("nmea0183", rmc), ("nmea0183", gga), ("rfid-fdxb", fdxb(999, 1234567))):
        [reading] = list(get_profile(profile).decode(frame))
        assert to_contract("ch", reading, now) is not None, (profile, reading)


# -- the local page's listen address ------------------------------------------------------------


@pytest.mark.parametrize(
    "listen", ["0.0.0.0:8080", "[::]:8080", "10.0.10.5:8080", "terminal.local:8080"]
)
def test_terminal_beyond_loopback_without_a_token_is_refused(
    tmp_path: Path, listen: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example weighbridge config once served the page on every interface with no token."""
    from edge_agent.cli import main

    path = tmp_path / "agent.toml"
    path.write_text(f'terminal_listen = "{listen}"\n' + CONFIG)
    with pytest.raises(ConfigError, match=r"without a terminal_token.*Set terminal_token"):
        load_config(path)
    assert main(["check-config", str(path)]) == 1
    assert f"terminal_listen '{listen}' serves the local page beyond" in capsys.readouterr().err
    path.write_text(f'terminal_listen = "{listen}"\nterminal_token = "b7Xq9-wide"\n' + CONFIG)
    assert load_config(path).terminal_listen == listen


@pytest.mark.parametrize(
    "listen,address",
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("127.0.0.2:8080", ("127.0.0.2", 8080)),
        ("localhost:8080", ("localhost", 8080)),
        ("[::1]:8080", ("::1", 8080)),
        (":8080", ("127.0.0.1", 8080)),  # an empty host is loopback, never every interface
    ],
)
def test_terminal_on_loopback_needs_no_token(
    tmp_path: Path, listen: str, address: tuple[str, int]
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(f'terminal_listen = "{listen}"\n' + CONFIG)
    assert load_config(path).terminal_address() == address


def test_terminal_env_override_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('terminal_listen = "127.0.0.1:8080"\n' + CONFIG)
    monkeypatch.setenv("OMS_EDGE_TERMINAL_LISTEN", "0.0.0.0:8080")
    with pytest.raises(ConfigError, match="without a terminal_token"):
        load_config(path)
    monkeypatch.setenv("OMS_EDGE_TERMINAL_TOKEN", "b7Xq9-wide")
    assert load_config(path).terminal_address() == ("0.0.0.0", 8080)


@pytest.mark.parametrize(
    "line,needle",
    [
        ('terminal_listen = "8080"', "is not host:port"),
        ('terminal_listen = "0.0.0.0:http"', "is not host:port"),
        ('terminal_listen = "127.0.0.1:70000"', "port 70000"),
        ('terminal_listen = "::1:8080"', "is not host:port"),  # IPv6 needs brackets
        ('terminal_token = ""', "terminal_token is empty"),
    ],
)
def test_terminal_settings_errors_are_clear(tmp_path: Path, line: str, needle: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(line + "\n" + CONFIG)
    with pytest.raises(ConfigError, match=needle):
        load_config(path)


def test_shipped_weighbridge_example_serves_its_page_on_loopback_only() -> None:
    from tests.support.services import REPO

    cfg = load_config(REPO / "deploy" / "edge" / "weighbridge.toml")
    assert cfg.terminal_token is None
    assert cfg.terminal_address() == ("127.0.0.1", 8080)


@pytest.mark.parametrize(
    "listen,bound", [(":0", "127.0.0.1"), ("127.0.0.1:0", "127.0.0.1"), ("[::1]:0", "::1")]
)
def test_terminal_server_binds_where_the_config_says(
    tmp_path: Path, listen: str, bound: str
) -> None:
    """The real server: an empty host binds loopback, an IPv6 address binds as IPv6."""
    from edge_agent.agent import Agent
    from edge_agent.config import AgentConfig
    from edge_agent.terminal import TerminalServer

    cfg = AgentConfig(device_id="wb-1", terminal_listen=listen, outbox={"path": tmp_path / "o.db"})
    agent = Agent(cfg, start_uplink=False)
    server = TerminalServer(agent, listen)
    try:
        assert server.httpd.server_address[0] == bound
    finally:
        server.httpd.server_close()
        agent.outbox.close()
