"""``oms broker``: the Mosquitto config generated from the device registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cloud.entrypoints.common import cli_session
from cloud.settings import get_settings

broker_app = typer.Typer(no_args_is_help=True, help="Mosquitto authentication and ACLs")

RESTART_HINT = (
    "restart the broker to apply: systemctl restart mosquitto. A reload (SIGHUP) is not enough:"
    " Mosquitto 2.0 reads dynsec.json only at start, revoked devices would stay connected"
)


@broker_app.command("config")
def broker_config(
    out: Annotated[Path, typer.Option(help="directory for dynsec.json and auth.conf")],
    port: Annotated[int, typer.Option(min=1, max=65535, help="device listener port")] = 1883,
    bind: Annotated[str, typer.Option(help="device listener address")] = "127.0.0.1",
    service_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="a second listener for the cloud's accounts (needed for more than one ingest"
            " worker; see deploy/mosquitto/README.md)",
        ),
    ] = None,
    service_bind: Annotated[str, typer.Option(help="service listener address")] = "127.0.0.1",
    owner: Annotated[
        str | None, typer.Option(help="chown the files to this user (the one Mosquitto runs as)")
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="PEM certificate (and chain) for a TLS device listener (mqtts://)"),
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="the private key of --tls-cert")] = None,
    dynsec_plugin: Annotated[
        Path | None,
        typer.Option(
            help="Mosquitto's mosquitto_dynamic_security.so (default: looked up in the usual"
            " library directories)"
        ),
    ] = None,
) -> None:
    """Write the broker's accounts, ACLs and listener config from the device registry.
    Restart the broker afterwards (a reload does not apply them)."""
    from cloud.broker.config import (
        DEFAULT_INGEST_USERNAME,
        Listener,
        build_broker_config,
        summary,
        write_broker_config,
    )

    settings = get_settings()
    username = settings.mqtt_username or DEFAULT_INGEST_USERNAME
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    with cli_session(error_name=False) as session:
        config = build_broker_config(
            session,
            out=out,
            ingest_username=username,
            ingest_password=password,
            devices=Listener(port, bind, certfile=tls_cert, keyfile=tls_key),
            service=Listener(service_port, service_bind) if service_port else None,
            dynsec_plugin=dynsec_plugin,
        )
    write_broker_config(config, owner=owner)
    for line in summary(config):
        typer.echo(line)
    if config.ingest_password:
        typer.echo(
            f"new ingest account {config.ingest_username!r}; its password (shown once):\n"
            f"{config.ingest_password}\n"
            f"set OMS_MQTT_USERNAME={config.ingest_username} and OMS_MQTT_PASSWORD=<it> for"
            " `oms ingest`"
        )
    if owner is None and hasattr(os, "geteuid") and os.geteuid() == 0:
        typer.echo(
            "warning: the files belong to root; Mosquitto reads them after dropping to its own"
            " user: pass --owner mosquitto",
            err=True,
        )
    typer.echo(RESTART_HINT)
