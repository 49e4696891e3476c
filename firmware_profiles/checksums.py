"""Checksum algorithms shared by several profiles (serial-protocols.md §18, ``checksum``).

Each is one documented rule; the profile that uses it cites where the rule comes from.
"""

from __future__ import annotations

from functools import reduce


def xor8(data: bytes) -> int:
    """XOR of every byte (XK3190 tF=0 and A12E, EM4100, WL-134, NMEA)."""
    return reduce(lambda acc, b: acc ^ b, data, 0)


def sum8(data: bytes) -> int:
    """Sum of every byte mod 256 (OB-350 format 4)."""
    return sum(data) & 0xFF


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final
    XOR (Rinstrum network protocol, rinCCITT.lua)."""
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def hex2(value: int) -> str:
    """Two upper-case hex digits, as the ASCII-hex checksums are sent."""
    return f"{value:02X}"
