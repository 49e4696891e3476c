from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import make_engine, make_sessionmaker
from cloud.migrations import upgrade
from tests.support import services


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if services.SKIPPED:
        reasons = sorted(set(services.SKIPPED))
        terminalreporter.write_sep(
            "!", f"{len(services.SKIPPED)} TESTS SKIPPED: SERVICES MISSING", red=True
        )
        for r in reasons:
            terminalreporter.write_line(f"  {r}", red=True)
        terminalreporter.write_line("  (with CI=true these fail instead)", red=True)


@pytest.fixture(scope="session")
def pg_ok() -> bool:
    why = services.pg_available()
    return why is None


def _migrated_url(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{(tmp / 'oms.db').as_posix()}"
        upgrade(url)
        yield url
        return
    why = services.pg_available()
    if why is not None:
        services.missing("PostgreSQL", why)
    if not services.timescale_available():
        services.missing(
            "TimescaleDB",
            "extension not installed or not preloaded (run deploy/postgres/install-timescaledb.sh)",
        )
    with services.pg_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database: SQLite file and PostgreSQL + TimescaleDB, one test each."""
    yield from _migrated_url(request.param, tmp_path)


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    """A migrated PostgreSQL + TimescaleDB database only."""
    yield from _migrated_url("postgresql", tmp_path)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url, pool_size=2)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[services.Mosquitto]:
    broker = services.start_mosquitto(tmp_path)
    yield broker
    broker.stop()
