"""``oms``: the cloud command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cloud.entrypoints.broker_cli import broker_app
from cloud.entrypoints.devices_cli import device_app
from cloud.entrypoints.schedules_cli import app as schedules_app
from cloud.entrypoints.tenancy_cli import tenant_app, user_app
from cloud.entrypoints.webhook_cli import app as webhook_app
from cloud.settings import get_settings

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="OMS cloud", pretty_exceptions_enable=False
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema")
dead_letters_app = typer.Typer(
    no_args_is_help=True,
    help="Messages ingest refused (kept with a bounded payload prefix, rate-limited per device)",
)
app.add_typer(db_app, name="db")
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(device_app, name="device")
app.add_typer(broker_app, name="broker")
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_app, name="user")
app.add_typer(webhook_app, name="webhook")
app.add_typer(schedules_app, name="schedules")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Run the migrations up to REVISION (default: the newest)."""
    from cloud.migrations import upgrade

    settings = get_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url, revision)
    typer.echo(f"database at {revision}: {settings.sqlalchemy_url.split('@')[-1]}")


@db_app.command("current")
def db_current() -> None:
    from cloud.migrations import current

    current(get_settings().sqlalchemy_url)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="worker processes (uvicorn), one per core")
    ] = 1,
) -> None:
    """Run the HTTP API and the web pages."""
    import uvicorn

    from cloud.entrypoints.app import create_app
    from cloud.logs import setup_logging

    settings = get_settings()
    setup_logging()
    listen_host, listen_port = host or settings.api_host, port or settings.api_port
    if workers == 1:
        uvicorn.run(create_app(settings), host=listen_host, port=listen_port)
    else:  # each worker process builds its own app (and database pool) from the environment
        uvicorn.run(
            "cloud.entrypoints.app:create_app",
            factory=True,
            workers=workers,
            host=listen_host,
            port=listen_port,
        )


@app.command()
def ingest(
    workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes")] = 1,
    index: Annotated[int, typer.Option(hidden=True)] = -1,
) -> None:
    """Consume device messages from MQTT into the database (ack after commit)."""
    settings = get_settings()
    if workers > 1 and index < 0:
        if settings.mqtt_v5 is False:
            raise typer.BadParameter("several workers need MQTT v5 shared subscriptions")
        from cloud.ingest.supervisor import supervise

        cmd = [
            sys.executable,
            "-m",
            "cloud.entrypoints.cli",
            "ingest",
            "--workers",
            str(workers),
            "--index",
        ]
        raise typer.Exit(supervise([[*cmd, str(i)] for i in range(workers)]))
    from cloud.db import make_engine, make_sessionmaker
    from cloud.ingest.mqtt import parse_mqtt_url
    from cloud.ingest.policy import IngestPolicy
    from cloud.ingest.worker import IngestConfig, IngestWorker, run_until_signal
    from cloud.logs import setup_logging

    setup_logging()
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    client_id = settings.ingest_client_id + (f"-{index}" if index >= 0 else "")
    v5 = settings.mqtt_v5 if settings.mqtt_v5 is not None else True
    worker = IngestWorker(
        IngestConfig(
            address=parse_mqtt_url(
                settings.mqtt_url, username=settings.mqtt_username, password=password
            ),
            client_id=client_id,
            v5=v5,
            shared_group=settings.ingest_shared_group if v5 else None,
            session_expiry_s=settings.mqtt_session_expiry_s,
            batch_size=settings.ingest_batch_size,
            batch_idle_ms=settings.ingest_batch_idle_ms,
            batch_max_wait_ms=settings.ingest_batch_max_wait_ms,
            ca_file=str(settings.mqtt_tls_ca) if settings.mqtt_tls_ca else None,
            policy=IngestPolicy.from_settings(settings),
        ),
        # No pre-ping: a batch on a dead connection fails as transient and is retried on a
        # fresh one, so the extra round trip per batch buys nothing here.
        make_sessionmaker(make_engine(settings.sqlalchemy_url, pool_size=2, pre_ping=False)),
    )
    run_until_signal(worker)


@dead_letters_app.command("purge")
def dead_letters_purge(
    older_than_days: Annotated[
        int | None,
        typer.Option(
            min=0, help="age in days; default OMS_DEAD_LETTER_RETENTION_DAYS (30 unless set)"
        ),
    ] = None,
) -> None:
    """Delete dead letters received more than OLDER_THAN_DAYS ago.

    Retention: dead letters are kept OMS_DEAD_LETTER_RETENTION_DAYS days. `oms ingest` runs
    this every hour by itself; run it from a timer (cron, a systemd timer) where ingest runs
    elsewhere or not at all. The per-device counts of refused messages are not deleted: they
    stay in the device status."""
    from cloud.db import make_engine, make_sessionmaker, transaction
    from cloud.ingest.deadletters import purge_dead_letters

    settings = get_settings()
    days = settings.dead_letter_retention_days if older_than_days is None else older_than_days
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            n = purge_dead_letters(session, older_than_days=days)
    finally:
        engine.dispose()
    typer.echo(f"deleted {n} dead letters older than {days} days")


@app.command()
def demo(
    smoke: Annotated[
        bool, typer.Option(help="headless: exit 0 once a weighing made an order")
    ] = False,
    out: Annotated[
        Path, typer.Option(help="where --smoke writes orders.json and intake.json")
    ] = Path("var/smoke"),
    port: Annotated[int, typer.Option(help="dashboard port (a free one if taken or 0)")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="demo data (reset at start)")] = None,
    speed: Annotated[float | None, typer.Option(help="simulator time factor")] = None,
) -> None:
    """Run the whole system on embedded defaults: SQLite, an in-process MQTT broker, a
    simulated weighbridge and the edge agent."""
    from cloud.entrypoints.demo import run_demo
    from cloud.logs import setup_logging

    setup_logging("WARNING")
    data = data_dir or (out / "data" if smoke else Path("var/demo"))
    raise typer.Exit(
        run_demo(
            data_dir=data.resolve(), api_port=port, smoke=smoke, out=out.resolve(), speed=speed
        )
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
