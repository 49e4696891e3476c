"""The limits ingest applies to device input, taken from the settings once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cloud.settings import Settings


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    device_future_skew_s: int = 600
    """``occurred_at`` further ahead of our reception time than this is in the future."""
    dead_letter_payload_prefix_bytes: int = 4096
    dead_letter_rate_per_device: int = 60
    dead_letter_rate_window_s: int = 60
    dead_letter_retention_days: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestPolicy:
        return cls(
            device_future_skew_s=settings.device_future_skew_s,
            dead_letter_payload_prefix_bytes=settings.dead_letter_payload_prefix_bytes,
            dead_letter_rate_per_device=settings.dead_letter_rate_per_device,
            dead_letter_rate_window_s=settings.dead_letter_rate_window_s,
            dead_letter_retention_days=settings.dead_letter_retention_days,
        )


DEFAULT_POLICY = IngestPolicy()
