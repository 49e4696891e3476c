"""``bench/api.py --quick`` on a tiny data set, so the benchmark cannot rot: it loads, starts
the real application, measures every figure through HTTP and prints one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from tests.support import services

pytestmark = pytest.mark.integration


def test_api_bench_quick_prints_every_figure() -> None:
    if why := services.pg_available():
        services.missing("PostgreSQL", why)
    if not services.timescale_available():
        services.missing("TimescaleDB", "extension not installed or not preloaded")
    db = f"oms_bench_api_test_{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [
            sys.executable,
            "bench/api.py",
            "--quick",
            "--db-name",
            db,
            "--orders",
            "3000",
            "--customers",
            "40",
            "--requests",
            "5",
            "--deep-pages",
            "3",
            "--webhook-deliveries",
            "12",
            "--webhook-threads",
            "4",
            "--csv-rows",
            "30",
            "--workers",
            "1",
        ],
        cwd=services.REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)

    assert out["benchmark"] == "api"
    assert out["load"]["rows"]["orders"] == 3000
    assert out["environment"]["orders"] >= 3000
    assert out["environment"]["tenants"] == 2
    assert out["environment"]["postgresql"]
    # Every figure was measured (an endpoint that went missing is reported, and fails here).
    assert out["missing"] == {}
    assert set(out["order_list_p99_ms"]) == {
        "first_page",
        "status_and_customer",
        "date_range",
        "deep_page",
    }
    assert all(v > 0 for v in out["order_list_p99_ms"].values())
    for key in ("order_detail_p99_ms", "create_order_p99_ms"):
        assert out[key] > 0, key
    assert out["webhook_orders_per_s"] > 0
    assert out["details"]["webhook"]["bad_signature_refused_401"] is True
    assert out["csv_import_rows_per_s"] > 0
    assert out["details"]["create_order"]["orders_created"] >= 5
    # The benchmark's database is gone afterwards (no --keep).
    with services._psycopg_connect(services.PG_ADMIN_URL) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
    assert row is None
