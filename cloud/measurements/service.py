"""Bulk storage of measurement batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cloud.devices.models import Device
from cloud.measurements.models import Measurement as MeasurementRow
from cloud.measurements.models import Position
from protocols import Measurement, PositionReading, TagReading, WeightReading


def rows_for(device: Device, msg: Measurement) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    weights: list[dict[str, Any]] = []
    positions: list[dict[str, Any]] = []
    mid = str(msg.message_id)
    for idx, r in enumerate(msg.readings):
        base = {
            "time": r.at,
            "message_id": mid,
            "idx": idx,
            "tenant_id": device.tenant_id,
            "device_id": device.id,
            "channel": r.channel,
        }
        if isinstance(r, WeightReading):
            weights.append(
                {
                    **base,
                    "kind": "weight",
                    "value": r.value,
                    "unit": r.unit,
                    "stable": r.stable,
                    "mode": r.mode,
                    "tare": r.tare,
                    "condition": r.condition,
                    "tag_id": None,
                }
            )
        elif isinstance(r, TagReading):
            weights.append(
                {
                    **base,
                    "kind": "tag",
                    "value": None,
                    "unit": None,
                    "stable": None,
                    "mode": None,
                    "tare": None,
                    "condition": "ok",
                    "tag_id": r.tag_id,
                }
            )
        elif isinstance(r, PositionReading):
            positions.append(
                {
                    **base,
                    "lat": r.lat,
                    "lon": r.lon,
                    "speed_kmh": r.speed_kmh,
                    "course": r.course,
                    "satellites": r.satellites,
                }
            )
    return weights, positions


def store_measurements(session: Session, batch: Sequence[tuple[Device, Measurement]]) -> int:
    """Insert every reading of the batch; returns the number of readings stored."""
    weights: list[dict[str, Any]] = []
    positions: list[dict[str, Any]] = []
    for device, msg in batch:
        w, p = rows_for(device, msg)
        weights += w
        positions += p
    if weights:
        session.execute(insert(MeasurementRow), weights)
    if positions:
        session.execute(insert(Position), positions)
    return len(weights) + len(positions)


def readings_between(
    session: Session,
    *,
    tenant_id: int,
    device_id: str,
    start: datetime,
    end: datetime,
    limit: int = 5000,
) -> list[MeasurementRow]:
    """The device's weight and tag readings in a time window (an order's, for review)."""
    return list(
        session.scalars(
            select(MeasurementRow)
            .where(
                MeasurementRow.tenant_id == tenant_id,
                MeasurementRow.device_id == device_id,
                MeasurementRow.time >= start,
                MeasurementRow.time <= end,
            )
            .order_by(MeasurementRow.time, MeasurementRow.idx)
            .limit(limit)
        )
    )
