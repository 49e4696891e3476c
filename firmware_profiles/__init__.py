"""Pure ``bytes -> Reading`` parsers, one module per indicator protocol (stdlib only, no I/O)."""

from firmware_profiles.base import (
    ChecksumError,
    FirmwareProfile,
    FrameError,
    Framer,
    ProfileError,
    Reading,
    SerialSettings,
    UnknownProfile,
)
from firmware_profiles.registry import PROFILES, get_profile, names, profile_class

__all__ = [
    "PROFILES",
    "ChecksumError",
    "FirmwareProfile",
    "FrameError",
    "Framer",
    "ProfileError",
    "Reading",
    "SerialSettings",
    "UnknownProfile",
    "get_profile",
    "names",
    "profile_class",
]
