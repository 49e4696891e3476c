"""Poll-mode indicators: answer the host's commands with the frame for the current state.

One responder per client connection (each keeps its own partial command). ``feed`` takes the
bytes the client sent and the scale's state now, and returns the replies in order.

What each answers (anything else gets the protocol's "unknown command" reply where it has one):

* ``mt-sics``: ``SI`` -> ``S S|D``; ``S`` -> ``S S``, or ``S I`` while in motion (a real
  balance would wait for stability); ``Z``/``ZI`` -> ``Z A``/``ZI A`` (the scenario's empty
  scale already reads 0); ``@``/``I4`` -> ``I4 A "<serial>"``; anything else ``ES``. Tare
  commands are refused with ``I`` (the simulator does not tare).
* ``toledo-8217``: ``W`` -> weight, or ``?`` + status while in motion; ``E<text>`` ->
  ``STX E CR`` and every byte echoed until ``F``; ``Z``/``T``/``C`` are accepted without a
  reply; other bytes are ignored (the protocol has no error reply).
* ``sma``: ``<LF>W<CR>`` and ``<LF>Z<CR>`` -> weight; ``<LF>A<CR>`` -> the about lines;
  anything else ``<LF>?<CR>``.
* ``nci``: ``W<CR>`` -> weight + status; ``S<CR>``/``Z<CR>`` -> status; anything else
  ``<LF>?<CR><ETX>``.
* ``rinstrum-net``: read literal (05) of 0025/0026/0027 -> ``<weight> kg G|N``, of 0028 (tare)
  -> 0 kg; anything else -> error reply A000 (not implemented). Plain requests get plain
  replies, CRC-framed ones (SOH..EOT) CRC-framed replies; requests without the reply-required
  bit get none; every address is answered, from address 31.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from edge_agent.simulate.encoders import Encoder, nci_status, rinstrum_literal
from edge_agent.simulate.scenarios import ScaleState
from firmware_profiles import nci, rinstrum_net, sma
from firmware_profiles.checksums import crc16_ccitt_false

SERIAL_NUMBER = "SIM0001"


class Responder(Protocol):
    def feed(self, data: bytes, state: ScaleState) -> list[bytes]: ...


class _Commands:
    """Host commands cut on a terminator; a runaway line without one is dropped."""

    def __init__(self, terminator: bytes, *, max_len: int = 128) -> None:
        self.terminator = terminator
        self.max_len = max_len
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += bytes(b & 0x7F for b in data)
        out = []
        while (i := self._buf.find(self.terminator)) >= 0:
            out.append(bytes(self._buf[:i]))
            del self._buf[: i + len(self.terminator)]
        if len(self._buf) > self.max_len:
            self._buf.clear()
        return out


class MtSicsResponder:
    def __init__(self, encode: Encoder) -> None:
        self.encode = encode
        self.commands = _Commands(b"\r\n")

    def feed(self, data: bytes, state: ScaleState) -> list[bytes]:
        return [self.reply(c.decode("ascii").strip(), state) for c in self.commands.feed(data)]

    def reply(self, command: str, state: ScaleState) -> bytes:
        name = command.split(" ", 1)[0]
        if name == "SI":
            return self.encode(state)
        if name == "S":
            return b"S I\r\n" if state.motion else self.encode(state)
        if name in ("Z", "ZI"):
            return f"{name} A\r\n".encode()
        if name in ("T", "TI", "TA", "TAC"):
            return f"{name} I\r\n".encode()
        if name in ("@", "I4"):
            return f'I4 A "{SERIAL_NUMBER}"\r\n'.encode()
        return b"ES\r\n"


class Toledo8217Responder:
    def __init__(self, encode: Encoder) -> None:
        self.encode = encode
        self.echo = False

    def feed(self, data: bytes, state: ScaleState) -> list[bytes]:
        out = []
        for byte in data:
            c = chr(byte & 0x7F)
            if self.echo:
                if c == "F":
                    self.echo = False
                else:
                    out.append(bytes([byte]))
            elif c == "W":
                out.append(self.encode(state))
            elif c == "E":
                self.echo = True
                out.append(b"\x02E\r")
        return out


class SmaResponder:
    ABOUT = ("SMA:2/1.0", "MFG:OMS", "MOD:SIMULATOR", f"SN_:{SERIAL_NUMBER}", "END:")

    def __init__(self, encode: Encoder) -> None:
        self.encode = encode
        self.commands = _Commands(b"\r")

    def feed(self, data: bytes, state: ScaleState) -> list[bytes]:
        out = []
        for c in self.commands.feed(data):
            command = c.lstrip(b"\n")
            if command in (b"W", b"Z"):
                out.append(self.encode(state))
            elif command == b"A":
                out += [f"\n{line}\r".encode() for line in self.ABOUT]
            else:
                out.append(sma.UNKNOWN_COMMAND)
        return out


class NciResponder:
    def __init__(self, encode: Encoder) -> None:
        self.encode = encode
        self.commands = _Commands(b"\r")

    def feed(self, data: bytes, state: ScaleState) -> list[bytes]:
        out = []
        for c in self.commands.feed(data):
            command = c.strip(b"\n")
            if command == b"W":
                out.append(self.encode(state))
            elif command in (b"S", b"Z"):
                out.append(nci.encode_status(nci_status(state)))
            else:
                out.append(nci.UNKNOWN_COMMAND)
        return out


RINSTRUM_REQUEST = re.compile(
    rb"\x01(?P<crc_msg>[^\x01\x04]+?)(?P<crc>[0-9A-Fa-f]{4})\x04"  # SOH message CRC EOT
    rb"|[\x12\x14]?(?P<msg>[0-9A-Fa-f]{8}:[^\r\n;\x01\x04]*)(?:\r\n|[\r\n;])"  # plain
)
RINSTRUM_MESSAGE = re.compile(
    rb"[\x12\x14]?(?P<addr>[0-9A-Fa-f]{2})(?P<cmd>[0-9A-Fa-f]{2})(?P<reg>[0-9A-Fa-f]{4}):"
)
RINSTRUM_ADDRESS = 31
NOT_IMPLEMENTED = 0xA000


class RinstrumNetResponder:
    def __init__(self, encode: Encoder) -> None:
        self.encode = encode
        self._buf = bytearray()

    def feed(self, data: bytes, state: ScaleState) -> list[bytes]:
        self._buf += data
        out = []
        while m := RINSTRUM_REQUEST.search(self._buf):
            crc_msg, crc_hex, msg = m["crc_msg"], m["crc"], m["msg"]
            del self._buf[: m.end()]  # after reading the groups: they are views of the buffer
            crc = crc_msg is not None
            if crc and crc16_ccitt_false(crc_msg) != int(crc_hex, 16):
                continue  # a damaged request is not answered
            reply = self.reply(crc_msg if crc else msg, state, crc=crc)
            if reply:
                out.append(reply)
        if len(self._buf) > 256:
            self._buf.clear()
        return out

    def reply(self, message: bytes, state: ScaleState, *, crc: bool) -> bytes | None:
        m = RINSTRUM_MESSAGE.match(message)
        if m is None:
            return None
        addr, cmd, reg = int(m["addr"], 16), int(m["cmd"], 16), int(m["reg"], 16)
        if addr & rinstrum_net.RESPONSE or not addr & rinstrum_net.REPLY_REQUIRED:
            return None  # another instrument's reply, or a write that wants no answer
        if cmd == rinstrum_net.READ_LITERAL and reg in rinstrum_net.WEIGHT_REGISTERS:
            if reg == 0x0026 and not crc:
                return self.encode(state)
            gross_net = "N" if reg == 0x0027 else "G"
            literal = rinstrum_literal(state.weight, gross_net)
            return rinstrum_net.encode_reply(literal, register=reg, crc=crc)
        if cmd == rinstrum_net.READ_LITERAL and reg == rinstrum_net.TARE_REGISTER:
            return rinstrum_net.encode_reply(
                rinstrum_literal(0, gross_net=""), register=reg, crc=crc
            )
        error = rinstrum_net.RESPONSE | rinstrum_net.ERROR | RINSTRUM_ADDRESS
        msg = f"{error:02X}{cmd:02X}{reg:04X}:{NOT_IMPLEMENTED:04X}".encode("ascii")
        if crc:
            return b"\x01" + msg + f"{crc16_ccitt_false(msg):04X}".encode("ascii") + b"\x04"
        return msg + b"\r\n"


RESPONDERS: dict[str, Callable[[Encoder], Responder]] = {
    "mt-sics": MtSicsResponder,
    "toledo-8217": Toledo8217Responder,
    "sma": SmaResponder,
    "nci": NciResponder,
    "rinstrum-net": RinstrumNetResponder,
}
