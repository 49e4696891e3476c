"""The registry of firmware profiles: one explicit tuple, looked up by name.

No trial-and-error autodetection: the name is what users write in their agent config.
"""

from __future__ import annotations

from typing import Any

from firmware_profiles.and_ad import AndAd
from firmware_profiles.base import FirmwareProfile, UnknownProfile
from firmware_profiles.bilanciai import Bilanciai
from firmware_profiles.cardinal import Cardinal
from firmware_profiles.cas import Cas
from firmware_profiles.dini_argeo import DiniArgeo
from firmware_profiles.mt_sics import MtSics
from firmware_profiles.nci import Nci
from firmware_profiles.nmea0183 import Nmea0183
from firmware_profiles.ob350 import Ob350
from firmware_profiles.rfid_allflex import RfidAllflex
from firmware_profiles.rfid_em4100 import RfidEm4100
from firmware_profiles.rfid_fdxb import RfidFdxb
from firmware_profiles.rice_lake import RiceLake
from firmware_profiles.right_weigh import RightWeigh
from firmware_profiles.rinstrum_auto import RinstrumAuto
from firmware_profiles.rinstrum_net import RinstrumNet
from firmware_profiles.sma import Sma
from firmware_profiles.toledo_8217 import Toledo8217
from firmware_profiles.toledo_continuous import ToledoContinuous
from firmware_profiles.weightronix import Weightronix
from firmware_profiles.xk3190_a9 import Xk3190A9
from firmware_profiles.xk3190_a12e import Xk3190A12e

PROFILES: tuple[type[FirmwareProfile], ...] = (
    MtSics,
    ToledoContinuous,
    Toledo8217,
    Sma,
    Nci,
    RinstrumAuto,
    RinstrumNet,
    RiceLake,
    Cardinal,
    Weightronix,
    DiniArgeo,
    Bilanciai,
    Cas,
    AndAd,
    Xk3190A9,
    Xk3190A12e,
    Ob350,
    RightWeigh,
    Nmea0183,
    RfidEm4100,
    RfidFdxb,
    RfidAllflex,
)

_BY_NAME: dict[str, type[FirmwareProfile]] = {p.name: p for p in PROFILES}
assert len(_BY_NAME) == len(PROFILES), "duplicate profile name"


def names() -> list[str]:
    return [p.name for p in PROFILES]


def profile_class(name: str) -> type[FirmwareProfile]:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownProfile(f"no profile named {name!r}; known: {', '.join(names())}") from None


def get_profile(name: str, **options: Any) -> FirmwareProfile:
    return profile_class(name)(**options)
