"""``oms device``: register devices, rotate and revoke their broker credentials, retention."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy import select

from cloud.entrypoints.common import cli_session, settings_engine
from cloud.settings import get_settings

device_app = typer.Typer(no_args_is_help=True, help="Edge devices and their credentials")


class Kind(StrEnum):
    weighbridge = "weighbridge"
    truck = "truck"


def _reserved() -> set[str]:
    from cloud.broker.config import DEFAULT_INGEST_USERNAME

    return {get_settings().mqtt_username or DEFAULT_INGEST_USERNAME}


def _reload_hint() -> None:
    typer.echo("apply at the broker: oms broker config --out <dir> && systemctl restart mosquitto")


@device_app.command("add")
def add(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    id: Annotated[str, typer.Option("--id", help="device id: a-z, 0-9 and inner '-'")],
    kind: Annotated[Kind, typer.Option(help="weighbridge or truck")],
    site_id: Annotated[int | None, typer.Option(help="the site of a weighbridge")] = None,
    vehicle_plate: Annotated[str | None, typer.Option(help="the truck's plate")] = None,
    name: Annotated[str | None, typer.Option(help="a name for people")] = None,
) -> None:
    """Register a device and print its broker password (once: only a hash is stored)."""
    from cloud.devices.service import DeviceLinkInvalid, add_device
    from cloud.fleet.models import Vehicle
    from cloud.tenancy.service import get_tenant_by_slug
    from protocols.normalize import plate_key

    with cli_session() as s:
        tenant_id = get_tenant_by_slug(s, slug=tenant).id
        vehicle_id = None
        if vehicle_plate:
            vehicle_id = s.scalar(
                select(Vehicle.id).where(
                    Vehicle.tenant_id == tenant_id, Vehicle.plate_key == plate_key(vehicle_plate)
                )
            )
            if vehicle_id is None:
                raise DeviceLinkInvalid(f"tenant {tenant!r} has no vehicle {vehicle_plate!r}")
        device, password = add_device(
            s,
            tenant_id=tenant_id,
            device_id=id,
            kind=kind.value,
            vehicle_id=vehicle_id,
            site_id=site_id,
            name=name,
            reserved=_reserved(),
        )
        device_id = device.id
    typer.echo(f"device: {device_id}\npassword: {password}")
    typer.echo("the password is shown once; put it in the device's config now")
    _reload_hint()


@device_app.command("rotate")
def rotate(device_id: Annotated[str, typer.Argument(help="device id")]) -> None:
    """Issue a new broker password (printed once); the old one stops at the next broker restart."""
    from cloud.devices.service import rotate_credentials

    with cli_session() as s:
        password = rotate_credentials(s, device_id=device_id)
    typer.echo(f"device: {device_id}\npassword: {password}")
    _reload_hint()


@device_app.command("revoke")
def revoke(
    device_id: Annotated[str, typer.Argument(help="device id")],
    reason: Annotated[str, typer.Option(help="why (lost, stolen, replaced...)")],
) -> None:
    """Revoke a device for good: it leaves the password file and the ACL."""
    from cloud.devices.service import revoke_device

    with cli_session() as s:
        device = revoke_device(s, device_id=device_id, reason=reason)
        at = device.revoked_at
    typer.echo(f"device {device_id} revoked at {at.isoformat() if at else '?'}: {reason}")
    _reload_hint()


@device_app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(help="only this tenant (slug)")] = None,
) -> None:
    """Devices, one per line: id, tenant, kind, state, last seen, software version."""
    from cloud.db import utcnow
    from cloud.devices.models import Device
    from cloud.devices.service import presence
    from cloud.tenancy.models import Tenant

    with cli_session() as s:
        stmt = select(Device, Tenant.slug).join(Tenant, Tenant.id == Device.tenant_id)
        if tenant is not None:
            stmt = stmt.where(Tenant.slug == tenant)
        rows = s.execute(stmt.order_by(Tenant.slug, Device.id)).all()
        now = utcnow()
        lines = [
            "\t".join(
                (
                    d.id,
                    slug,
                    d.kind,
                    presence(d, now=now),
                    d.last_seen_at.isoformat(timespec="seconds") if d.last_seen_at else "-",
                    d.software_version or "-",
                )
            )
            for d, slug in rows
        ]
    typer.echo("\n".join(["id\ttenant\tkind\tstate\tlast_seen_at\tsoftware", *lines]))


@device_app.command("retention")
def retention(
    older_than_days: Annotated[
        int, typer.Option(min=1, help="remove measurements and positions older than this")
    ],
) -> None:
    """Drop old measurements and positions (TimescaleDB chunks, or rows on SQLite)."""
    from datetime import timedelta

    from cloud.measurements.retention import apply_retention, retention_unit

    with settings_engine() as engine:
        removed = apply_retention(engine, older_than=timedelta(days=older_than_days))
        unit = retention_unit(engine)
    typer.echo(f"removed {removed} {unit} older than {older_than_days} days")
