"""API latency and throughput on a loaded database, measured through HTTP.

Loads N orders (default 1,000,000) over T tenants (default 10) into a fresh PostgreSQL +
TimescaleDB database with ``COPY`` (customers, sites, materials, vehicles, orders and their
status history, with skewed, realistic distributions over two years), sets each tenant's order
number series to continue after the loaded numbers, then starts the real application (uvicorn
on ``cloud.entrypoints.app:create_app``, production settings, several worker processes) and
measures with httpx:

- ``order_list_p99_ms``: the first page, filtered pages (status + customer, date range) and a
  page deep in the list (the keyset cursor followed N pages deep), sequential requests;
- ``order_detail_p99_ms``; ``create_order_p99_ms`` (POST as a planner), sequential;
- ``webhook_orders_per_s``: signed webshop deliveries from several client threads;
- ``csv_import_rows_per_s``: customers CSV imports.

Every latency is measured after a warm-up, in several runs; the figure reported is the median
of the runs' percentiles. An endpoint that does not exist (yet) is reported as ``null`` with a
note in ``missing``: figures are never made up. Prints one JSON object.

Usage: python bench/api.py [--quick] [--keep] [--workers 2] [--orders N] [--tenants T]
``--keep`` keeps the database (``--db-name``) and reuses it when it holds the same data set,
skipping the load. ``--explain`` adds EXPLAIN ANALYZE of the list and detail queries.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import csv
import hashlib
import hmac
import io
import itertools
import json
import math
import os
import platform
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.procstat import proc_stat  # noqa: E402
from cloud.migrations import upgrade  # noqa: E402

PG_ADMIN_URL = os.environ.get("OMS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
LOADER_VERSION = 1
"""Part of the data set's signature: a kept database made by another loader is reloaded."""

TARGETS = {
    "order_list_p99_ms": 50,
    "order_detail_p99_ms": 30,
    "create_order_p99_ms": 50,
    "webhook_orders_per_s": 300,
    "csv_import_rows_per_s": 2000,
}

# -- realistic data -------------------------------------------------------------------------

CITIES = [
    "Amsterdam",
    "Rotterdam",
    "Utrecht",
    "Eindhoven",
    "Tilburg",
    "Groningen",
    "Almere",
    "Breda",
    "Nijmegen",
    "Apeldoorn",
    "Haarlem",
    "Arnhem",
    "Enschede",
    "Amersfoort",
    "Zaandam",
    "Zwolle",
    "Leiden",
    "Maastricht",
    "Dordrecht",
    "Ede",
    "Alkmaar",
    "Delft",
    "Venlo",
    "Deventer",
    "Helmond",
    "Oss",
    "Hengelo",
    "Emmen",
    "Sittard",
    "Hilversum",
]
STREETS = [
    "Industrieweg",
    "Kerkstraat",
    "Dorpsstraat",
    "Stationsweg",
    "Havenweg",
    "Nijverheidsweg",
    "Molenweg",
    "Schoolstraat",
    "Parallelweg",
    "Ambachtsweg",
    "Handelsweg",
    "Energieweg",
    "Transportweg",
    "Bedrijvenpark",
]
TRADES = (
    "Bouwbedrijf",
    "Aannemersbedrijf",
    "Hoveniersbedrijf",
    "Sloopbedrijf",
    "Installatiebedrijf",
    "Schildersbedrijf",
    "Restaurant",
    "Autobedrijf",
    "Timmerfabriek",
    "Grondverzet",
    "Dakdekkersbedrijf",
    "Supermarkt",
    "Hotel",
    "Kwekerij",
    "Woningcorporatie",
)
SURNAMES = (
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
)
LEGAL = ("B.V.", "B.V.", "V.O.F.", "", "& Zn.", "Holding B.V.")
MATERIALS = (
    ("BSA", "Bouw- en sloopafval", "170904"),
    ("GRD", "Grond", "170504"),
    ("PUIN", "Schoon puin", "170107"),
    ("HOUT-B", "B-hout", "170201"),
    ("GROEN", "Groenafval", "200201"),
    ("PAP", "Papier en karton", "200101"),
    ("BEDR", "Bedrijfsafval", "200301"),
    ("ASB", "Asbesthoudend bouwmateriaal", "170605*"),
    ("METL", "Gemengde metalen", "170407"),
    ("GLAS", "Vlakglas", "170202"),
    ("DAK", "Bitumineus dakafval", "170302"),
    ("GIPS", "Gips", "170802"),
)
MATERIAL_WEIGHTS = (30, 12, 14, 10, 9, 6, 10, 1, 3, 2, 2, 1)
CONTAINERS = (
    "6m3 afzetcontainer",
    "10m3 afzetcontainer",
    "15m3 afzetcontainer",
    "20m3 haakarmcontainer",
    "30m3 haakarmcontainer",
    "40m3 haakarmcontainer",
)
ORDER_TYPES = (
    "walk_in",
    "container_exchange",
    "container_place",
    "container_collect",
    "bulk_transport",
    "other",
)
ORDER_TYPE_WEIGHTS = (25, 30, 14, 14, 12, 5)
SOURCES_BY_TYPE = {
    "walk_in": (("weighing", 90), ("manual", 10)),
    "bulk_transport": (("manual", 80), ("portal", 20)),
    "other": (("manual", 100),),
}
CONTAINER_SOURCES = (("manual", 50), ("portal", 20), ("webshop", 15), ("schedule", 15))
NOTES = (
    "Graag voor 10:00 plaatsen",
    "Container achter het hek, code 4471",
    "Bellen bij aankomst",
    "Niet op het trottoir plaatsen",
    "Sleutel ligt bij de receptie",
)
# Status mix by the order's age: old orders are invoiced, recent ones still open.
STATUS_BY_AGE = (
    (
        7,
        (
            ("created", 35),
            ("planned", 30),
            ("executed", 25),
            ("ready_for_invoicing", 5),
            ("cancelled", 5),
        ),
    ),
    (
        30,
        (
            ("created", 2),
            ("planned", 3),
            ("executed", 20),
            ("ready_for_invoicing", 30),
            ("invoiced", 40),
            ("cancelled", 5),
        ),
    ),
    (
        10**6,
        (
            ("created", 1),
            ("planned", 1),
            ("executed", 3),
            ("ready_for_invoicing", 2),
            ("invoiced", 88),
            ("cancelled", 5),
        ),
    ),
)
PATH_TO = {
    "created": ("created",),
    "planned": ("created", "planned"),
    "executed": ("created", "planned", "executed"),
    "ready_for_invoicing": ("created", "planned", "executed", "ready_for_invoicing"),
    "invoiced": ("created", "planned", "executed", "ready_for_invoicing", "invoiced"),
    "cancelled": ("created", "cancelled"),
}


class Chooser:
    """Fast weighted choice from a fixed table (cumulative weights + bisect)."""

    def __init__(self, items: Sequence[Any], weights: Sequence[float], rnd: random.Random) -> None:
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]
        self.rnd = rnd

    def __call__(self) -> Any:
        return self.items[bisect.bisect_right(self.cum, self.rnd.random() * self.total)]


def tenant_weights(n: int) -> list[float]:
    """Uneven tenants, as real customers of an OMS are: the largest has ~22% of 10."""
    return [1 / (i + 1) ** 0.6 for i in range(n)]


@dataclass
class TenantData:
    id: int
    slug: str
    planner_id: int = 0
    owner_id: int = 0
    customer_ids: list[int] = field(default_factory=list)
    cash_customer_id: int = 0
    sites_by_customer: dict[int, list[int]] = field(default_factory=dict)
    material_ids: list[int] = field(default_factory=list)
    vehicle_ids: list[int] = field(default_factory=list)
    orders: int = 0
    customer_chooser: Chooser | None = None


# -- database -------------------------------------------------------------------------------


def dsn(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


def sa_url(dbname: str) -> str:
    return dsn(dbname).replace("postgresql://", "postgresql+psycopg://", 1)


def admin() -> psycopg.Connection[Any]:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


def db_comment(dbname: str) -> str | None:
    with admin() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (dbname,),
        ).fetchone()
    return None if row is None else (row[0] or "")


def recreate_db(dbname: str) -> None:
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')


def drop_db(dbname: str) -> None:
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


class Filler:
    """Values for NOT NULL columns without a server default that the loader does not know
    (another area may add one): the model's Python default, or a clear error."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def columns(self, table: str, given: Sequence[str]) -> tuple[list[str], tuple[Any, ...]]:
        from cloud.models import Base

        rows = self.conn.execute(
            "SELECT column_name, is_nullable, column_default, is_generated FROM"
            " information_schema.columns WHERE table_name = %s AND table_schema = 'public'",
            (table,),
        ).fetchall()
        extra: list[str] = []
        values: list[Any] = []
        for name, nullable, default, generated in rows:
            if name in given or nullable == "YES" or default is not None or generated != "NEVER":
                continue
            col = Base.metadata.tables[table].c.get(name)
            dflt = getattr(col, "default", None)
            if dflt is None:
                raise SystemExit(f"bench/api.py: no value for NOT NULL {table}.{name}")
            value = dflt.arg(None) if dflt.is_callable else dflt.arg
            if isinstance(value, dict | list):
                value = json.dumps(value)
            extra.append(name)
            values.append(value)
        return [*given, *extra], tuple(values)


def copy_rows(
    conn: psycopg.Connection[Any],
    filler: Filler,
    table: str,
    columns: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
) -> int:
    cols, extra = filler.columns(table, columns)
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row + extra if extra else row)
            n += 1
    return n


def set_sequence(conn: psycopg.Connection[Any], table: str) -> None:
    conn.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
        f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
    )


class IndexesOff:
    """Drop a table's secondary indexes and unique constraints for the bulk load and build
    them again afterwards (much faster than maintaining them row by row)."""

    def __init__(self, conn: psycopg.Connection[Any], table: str) -> None:
        self.conn, self.table = conn, table
        self.constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'u'",
            (table,),
        ).fetchall()
        self.indexes = conn.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = %s::regclass AND NOT x.indisprimary AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            (table,),
        ).fetchall()

    def __enter__(self) -> None:
        for name, _ in self.constraints:
            self.conn.execute(f'ALTER TABLE {self.table} DROP CONSTRAINT "{name}"')
        for name, _ in self.indexes:
            self.conn.execute(f'DROP INDEX "{name}"')

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            return
        for name, definition in self.constraints:
            self.conn.execute(f'ALTER TABLE {self.table} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in self.indexes:
            self.conn.execute(definition)


# -- the loader -----------------------------------------------------------------------------


def create_tenants_and_users(url: str, tenants: int, password: str) -> list[TenantData]:
    """Tenants and users through the services (password hashing, roles): few rows."""
    from cloud.db import make_engine, make_sessionmaker, transaction
    from cloud.tenancy.service import create_tenant, create_user

    engine = make_engine(url)
    out = []
    with transaction(make_sessionmaker(engine)) as s:
        for i in range(tenants):
            slug = f"bench-{i + 1:02d}"
            t = create_tenant(s, slug=slug, name=f"Afvalservice {SURNAMES[i % len(SURNAMES)]}")
            td = TenantData(id=t.id, slug=slug)
            td.planner_id = create_user(
                s,
                tenant_id=t.id,
                email=f"planner@{slug}.bench.test",
                name="Planner",
                password=password,
                roles=["planner"],
            ).id
            td.owner_id = create_user(
                s,
                tenant_id=t.id,
                email=f"owner@{slug}.bench.test",
                name="Owner",
                password=password,
                roles=["owner", "administrator"],
            ).id
            out.append(td)
    engine.dispose()
    return out


def reset_passwords(url: str, password: str) -> None:
    """A kept database: the users get this run's password (none is stored anywhere)."""
    from cloud.tenancy.security import hash_password

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(
            "UPDATE users SET password_hash = %s WHERE email LIKE %s",
            (hash_password(password), "%.bench.test"),
        )


def load(
    url: str, *, orders: int, tenants: int, customers: int, seed: int, password: str
) -> dict[str, Any]:
    t0 = time.perf_counter()
    rnd = random.Random(seed)
    tds = create_tenants_and_users(url, tenants, password)
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    conn.execute("SET session_replication_role = replica")  # no FK triggers: the data is consistent
    conn.execute("SET maintenance_work_mem = '256MB'")
    filler = Filler(conn)
    today = datetime.now(UTC).date()

    # customers, sites, materials, vehicles ----------------------------------------------------
    t = time.perf_counter()
    cust_rows: list[tuple[Any, ...]] = []
    site_rows: list[tuple[Any, ...]] = []
    cid = sid = 0
    created = datetime.now(UTC) - timedelta(days=800)
    for td in tds:
        for k in range(customers):
            cid += 1
            is_cash = k == 0
            trade, surname = rnd.choice(TRADES), rnd.choice(SURNAMES)
            name = (
                "Kasklant (contant)"
                if is_cash
                else f"{trade} {surname} {rnd.choice(LEGAL)}".strip()
            )
            city = rnd.choice(CITIES)
            kvk = f"{rnd.randrange(10**7, 10**8)}"
            fmt = rnd.choices(("pdf", "peppol_bis", "si_ubl"), (60, 30, 10))[0]
            cust_rows.append(
                (
                    cid,
                    td.id,
                    "KAS" if is_cash else f"{k:06d}",  # as the ``customer`` series numbers them
                    name,
                    None if is_cash else f"NL{rnd.randrange(10**8, 10**9)}B01",
                    None if is_cash else kvk,
                    None if is_cash else f"facturen@klant{cid}.example.nl",
                    f"{rnd.choice(STREETS)} {rnd.randint(1, 250)}",
                    f"{rnd.randint(1000, 9999)} {rnd.choice('ABCDEGHJKLMNPRSTVWXZ')}{rnd.choice('ABCDEGHJKLMNPRSTVWXZ')}",
                    city,
                    "NL",
                    0 if is_cash else rnd.choice((14, 30, 30, 30, 60)),
                    is_cash,
                    created + timedelta(days=rnd.random() * 700),
                    None if is_cash else f"info@klant{cid}.example.nl",
                    None if is_cash else f"06{rnd.randrange(10**7, 10**8)}",
                    rnd.choices(("per_order", "per_site", "per_period"), (50, 20, 30))[0],
                    fmt,
                    f"0106:{kvk}" if fmt != "pdf" and not is_cash else None,
                    rnd.random() > 0.03,
                    False,
                )
            )
            td.customer_ids.append(cid)
            if is_cash:
                td.cash_customer_id = cid
                continue
            sites = td.sites_by_customer.setdefault(cid, [])
            for _ in range(rnd.choices((1, 2, 3, 6), (60, 25, 10, 5))[0]):
                sid += 1
                sites.append(sid)
                site_rows.append(
                    (
                        sid,
                        td.id,
                        f"{name} - {rnd.choice(STREETS)}",
                        "customer_site",
                        cid,
                        f"{rnd.choice(STREETS)} {rnd.randint(1, 250)}",
                        f"{rnd.randint(1000, 9999)} AB",
                        rnd.choice(CITIES),
                        "NL",
                        Decimal(f"{rnd.uniform(50.8, 53.4):.7f}"),
                        Decimal(f"{rnd.uniform(3.4, 7.1):.7f}"),
                        rnd.choice(NOTES) if rnd.random() < 0.2 else None,
                        None,
                        True,
                    )
                )
        for kind, number in (
            ("own_yard", None),
            ("weighbridge", None),
            ("processor", "80123"),
            ("processor", "80456"),
        ):
            sid += 1
            site_rows.append(
                (
                    sid,
                    td.id,
                    f"{kind} {sid}",
                    kind,
                    None,
                    "Havenweg 1",
                    "3089 JB",
                    "Rotterdam",
                    "NL",
                    None,
                    None,
                    None,
                    number,
                    True,
                )
            )
        # Order counts follow customers' sizes: a few large customers, many small ones.
        weights = [rnd.lognormvariate(0, 1.3) for _ in td.customer_ids]
        td.customer_chooser = Chooser(td.customer_ids, weights, rnd)
    rows["customers"] = copy_rows(
        conn,
        filler,
        "customers",
        [
            "id",
            "tenant_id",
            "number",
            "name",
            "vat_id",
            "kvk",
            "invoice_email",
            "street",
            "postal_code",
            "city",
            "country",
            "payment_terms_days",
            "is_cash",
            "created_at",
            "email",
            "phone",
            "invoice_grouping",
            "einvoice_format",
            "peppol_id",
            "is_active",
            "needs_review",
        ],
        cust_rows,
    )
    rows["sites"] = copy_rows(
        conn,
        filler,
        "sites",
        [
            "id",
            "tenant_id",
            "name",
            "kind",
            "customer_id",
            "street",
            "postal_code",
            "city",
            "country",
            "lat",
            "lon",
            "access_notes",
            "processor_number",
            "is_active",
        ],
        site_rows,
    )
    mid = vid = 0
    mat_rows, veh_rows = [], []
    for td in tds:
        for code, desc, eural in MATERIALS:
            mid += 1
            td.material_ids.append(mid)
            mat_rows.append((mid, td.id, code, desc, eural, eural.endswith("*"), None, True))
        for k in range(12):
            vid += 1
            td.vehicle_ids.append(vid)
            plate = f"{rnd.randint(10, 99)}-BB{'DFGHJK'[k % 6]}-{k + 1}"
            veh_rows.append(
                (
                    vid,
                    td.id,
                    plate,
                    plate.replace("-", ""),
                    "truck",
                    rnd.choice(("kipper", "haakarm", "portaal")),
                    json.dumps(list(CONTAINERS[:3])),
                    "CE",
                    True,
                )
            )
    rows["materials"] = copy_rows(
        conn,
        filler,
        "materials",
        [
            "id",
            "tenant_id",
            "code",
            "description",
            "eural_code",
            "hazardous",
            "article_id",
            "is_active",
        ],
        mat_rows,
    )
    rows["vehicles"] = copy_rows(
        conn,
        filler,
        "vehicles",
        [
            "id",
            "tenant_id",
            "plate",
            "plate_key",
            "kind",
            "vehicle_type",
            "allowed_container_types",
            "licence_category",
            "is_active",
        ],
        veh_rows,
    )
    for table in ("customers", "sites", "materials", "vehicles"):
        set_sequence(conn, table)
    conn.commit()
    seconds["master_data"] = round(time.perf_counter() - t, 1)

    # orders and their status history ----------------------------------------------------------
    t = time.perf_counter()
    now = datetime.now(UTC)
    start = now - timedelta(days=730)
    step = (now - start) / orders
    tenant_of = Chooser(tds, tenant_weights(len(tds)), rnd)
    type_of = Chooser(ORDER_TYPES, ORDER_TYPE_WEIGHTS, rnd)
    material_of = Chooser(range(len(MATERIALS)), MATERIAL_WEIGHTS, rnd)
    source_of = {
        k: Chooser([s for s, _ in v], [w for _, w in v], rnd) for k, v in SOURCES_BY_TYPE.items()
    }
    container_source = Chooser(
        [s for s, _ in CONTAINER_SOURCES], [w for _, w in CONTAINER_SOURCES], rnd
    )
    status_of = [
        (days, Chooser([s for s, _ in mix], [w for _, w in mix], rnd))
        for days, mix in STATUS_BY_AGE
    ]
    seq_by_tenant = dict.fromkeys((td.id for td in tds), 0)
    history: list[tuple[Any, ...]] = []
    hid = 0
    order_cols = [
        "id",
        "tenant_id",
        "number",
        "order_type",
        "source",
        "source_ref",
        "status",
        "customer_id",
        "site_id",
        "vehicle_id",
        "material",
        "material_id",
        "requested_date",
        "window_start",
        "window_end",
        "container_type",
        "expected_quantity_kg",
        "expected_containers",
        "reference",
        "notes",
        "actual_quantity_kg",
        "actual_counts",
        "needs_review",
        "review_reasons",
        "created_at",
        "updated_at",
        "executed_at",
        "created_by_user_id",
        "cancelled_at",
        "cancel_reason",
    ]
    hist_cols = [
        "id",
        "tenant_id",
        "order_id",
        "from_status",
        "to_status",
        "at",
        "by_user_id",
        "reason",
    ]

    def gen_orders() -> Iterator[tuple[Any, ...]]:
        nonlocal hid
        r = rnd.random
        for oid in range(1, orders + 1):
            td = tenant_of()
            created_at = start + step * oid + timedelta(seconds=r() * 30)
            seq_by_tenant[td.id] += 1
            number = f"{created_at.year}-{seq_by_tenant[td.id]:06d}"
            otype = type_of()
            if otype == "walk_in":
                customer = td.cash_customer_id if r() < 0.4 else td.customer_chooser()
            else:
                customer = td.customer_chooser()
                if customer == td.cash_customer_id:
                    customer = td.customer_ids[1 + int(r() * (len(td.customer_ids) - 1))]
            source = container_source() if otype.startswith("container") else source_of[otype]()
            age = (now - created_at).days
            status = next(c for days, c in status_of if age < days)()
            if otype == "walk_in" and status in ("created", "planned"):
                status = "executed"
            sites = td.sites_by_customer.get(customer)
            site = sites[int(r() * len(sites))] if sites and otype != "walk_in" else None
            m = material_of()
            req = created_at.date() + timedelta(days=0 if otype == "walk_in" else int(r() * 10))
            if status not in ("created", "planned", "cancelled"):
                req = min(req, today)  # executed orders were asked for no later than today
            window = None
            if otype != "walk_in" and r() < 0.3:
                ws = datetime(req.year, req.month, req.day, 6 + int(r() * 8), tzinfo=UTC)
                window = (ws, ws + timedelta(hours=2 + int(r() * 4)))
            path = PATH_TO[status]
            if otype == "walk_in":
                path = tuple(p for p in path if p != "planned")
            executed = "executed" in path
            exec_at = None
            if executed:
                exec_at = datetime(req.year, req.month, req.day, 7, tzinfo=UTC) + timedelta(
                    minutes=int(r() * 600)
                )
                exec_at = min(max(exec_at, created_at + timedelta(minutes=20)), now)
            planner = td.planner_id if source == "manual" else None
            cancelled = status == "cancelled"
            yield (
                oid,
                td.id,
                number,
                otype,
                source,
                None if source == "manual" else f"{source}:{uuid.UUID(int=rnd.getrandbits(128))}",
                status,
                customer,
                site,
                td.vehicle_ids[int(r() * len(td.vehicle_ids))] if "planned" in path else None,
                MATERIALS[m][1],
                td.material_ids[m],
                req,
                window[0] if window else None,
                window[1] if window else None,
                CONTAINERS[int(r() * len(CONTAINERS))] if otype.startswith("container") else None,
                Decimal(int(r() * 12000) + 500) if r() < 0.2 else None,
                1 if otype.startswith("container") else None,
                f"PO-{int(r() * 10**6):06d}" if r() < 0.3 else None,
                NOTES[int(r() * len(NOTES))] if r() < 0.05 else None,
                Decimal(int(r() * 14000) + 200) if executed else None,
                '{"containers": 1}' if executed and otype.startswith("container") else "{}",
                r() < 0.01,
                "[]",
                created_at,
                exec_at or created_at,
                exec_at,
                planner,
                created_at + timedelta(hours=3) if cancelled else None,
                "Klant heeft afgezegd" if cancelled else None,
            )
            at = created_at
            prev = None
            for st in path:
                hid += 1
                if st == "executed":
                    at = exec_at  # type: ignore[assignment]
                elif st != "created":
                    at = at + timedelta(hours=1 + r() * 200)
                history.append(
                    (
                        hid,
                        td.id,
                        oid,
                        prev,
                        st,
                        at,
                        planner if st != "executed" else None,
                        f"created ({source})" if st == "created" else None,
                    )
                )
                prev = st

    with IndexesOff(conn, "orders"), IndexesOff(conn, "order_status_history"):
        n = 0
        batch = 50_000
        gen = gen_orders()
        while True:
            chunk = list(itertools.islice(gen, batch))
            if not chunk:
                break
            n += copy_rows(conn, filler, "orders", order_cols, chunk)
            copy_rows(conn, filler, "order_status_history", hist_cols, history)
            history.clear()
        rows["orders"] = n
        rows["order_status_history"] = hid
        seconds["orders_copy"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
    seconds["orders_indexes"] = round(time.perf_counter() - t, 1)
    for table in ("orders", "order_status_history"):
        set_sequence(conn, table)
    # The number series continue after the loaded numbers (``{year}-`` prefix, gapless).
    for td in tds:
        td.orders = seq_by_tenant[td.id]
        conn.execute(
            "INSERT INTO number_series (tenant_id, purpose, prefix, next_value, width)"
            " VALUES (%s, 'order', '{year}-', %s, 6)",
            (td.id, td.orders + 1),
        )
        conn.execute(
            "INSERT INTO number_series (tenant_id, purpose, prefix, next_value, width)"
            " VALUES (%s, 'customer', '', %s, 6)",
            (td.id, customers),
        )
    conn.commit()
    t = time.perf_counter()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    seconds["vacuum_analyze"] = round(time.perf_counter() - t, 1)
    conn.close()
    seconds["total"] = round(time.perf_counter() - t0, 1)
    return {
        "rows": rows,
        "seconds": seconds,
        "orders_per_tenant": {td.slug: td.orders for td in tds},
    }


# -- the server -----------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The real application under uvicorn, production settings, ``workers`` processes."""

    def __init__(self, url: str, workers: int, tmp: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log = tmp / "server.log"
        self.env = {
            **os.environ,
            "OMS_ENVIRONMENT": "production",
            "OMS_SECRET_KEY": secrets.token_urlsafe(32),
            "OMS_DATABASE_URL": url,
            "OMS_DATA_DIR": str(tmp / "data"),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "cloud.entrypoints.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=self.env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None or "Traceback" in self.log_tail():
                self.stop()
                raise SystemExit(f"the server did not start: {self.log_tail()}")
            try:
                httpx.get(self.base + "/api/v1/orders", timeout=2)
                # Every worker imports the app: give them all a moment to be ready.
                time.sleep(1.0 if self.workers > 1 else 0.2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise SystemExit(f"the server did not answer: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``oms ...`` against the benchmark's database."""
        return subprocess.run(
            [sys.executable, "-m", "cloud.entrypoints.cli", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )


def cpu_of(pgid: int | None, backends: set[int]) -> dict[str, float]:
    """CPU seconds so far of the server's process group, its PostgreSQL backends (``backends``:
    their pids), this process (the client), and the whole machine (all cores, /proc/stat)."""
    out = {"server": 0.0, "postgres": 0.0, "client": 0.0}
    # ``postgres`` is a lower bound: a pooled connection closed during the run takes its
    # backend's CPU time with it.
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        st = proc_stat(pid)
        if st is None:
            continue
        _, group, cpu = st
        if pgid is not None and group == pgid:
            out["server"] += cpu
        elif int(pid) in backends:
            out["postgres"] += cpu
        elif int(pid) == os.getpid():
            out["client"] += cpu
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    busy = sum(int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4))  # not idle, iowait
    out["machine"] = busy / os.sysconf("SC_CLK_TCK")
    return out


def cores_used(
    before: dict[str, float], after: dict[str, float], seconds: float
) -> dict[str, float]:
    return {k: round(max(0.0, after[k] - before[k]) / seconds, 2) for k in before}


# -- measuring ------------------------------------------------------------------------------


class Missing(Exception):
    """An endpoint or feature the benchmark needs is not there (yet)."""


def pct(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    return sorted_ms[max(0, min(len(sorted_ms) - 1, math.ceil(q * len(sorted_ms)) - 1))]


def summary(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "p50": round(pct(s, 0.50), 2),
        "p95": round(pct(s, 0.95), 2),
        "p99": round(pct(s, 0.99), 2),
        "max": round(s[-1], 2),
    }


def latency(
    call: Callable[[int], None], *, warmup: int, requests: int, runs: int
) -> dict[str, Any]:
    """Sequential requests: ``warmup`` unmeasured, then ``runs`` runs of ``requests``. The
    figures are the medians of the runs' percentiles."""
    i = 0
    for _ in range(warmup):
        call(i)
        i += 1
    per_run = []
    for _ in range(runs):
        samples = []
        for _ in range(requests):
            t = time.perf_counter()
            call(i)
            samples.append((time.perf_counter() - t) * 1000)
            i += 1
        per_run.append(summary(samples))
    return {
        **{k: round(statistics.median(r[k] for r in per_run), 2) for k in ("p50", "p95", "p99")},
        "runs": per_run,
        "requests_per_run": requests,
        "warmup": warmup,
    }


def expect(resp: httpx.Response, *codes: int) -> httpx.Response:
    if resp.status_code == 404 and resp.json().get("detail") == "Not Found":
        raise Missing(f"{resp.request.method} {resp.request.url.path}: no such route (404)")
    if resp.status_code == 405:
        raise Missing(f"{resp.request.method} {resp.request.url.path}: method not allowed (405)")
    if resp.status_code not in codes:
        raise RuntimeError(
            f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: {resp.text[:500]}"
        )
    return resp


def login(base: str, email: str, password: str) -> dict[str, str]:
    resp = httpx.post(
        base + "/api/v1/auth/token", json={"email": email, "password": password}, timeout=30
    )
    expect(resp, 200)
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


@dataclass
class Bench:
    base: str
    db: str
    tenant_id: int
    slug: str
    planner: dict[str, str]
    owner: dict[str, str]
    warmup: int
    requests: int
    runs: int
    deep_pages: int
    rnd: random.Random
    server: Server | None = None
    webhook_threads: int = 12
    webhook_deliveries: int = 2000
    csv_rows: int = 20_000
    results: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    materials: list[tuple[Any, ...]] = field(default_factory=list)

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(dsn(self.db)) as conn:
            return conn.execute(query, args).fetchall()

    def backends(self) -> set[int]:
        """The PostgreSQL backends serving the benchmark's database (the server's pool)."""
        rows = self.sql("SELECT pid FROM pg_stat_activity WHERE datname = %s", self.db)
        return {r[0] for r in rows}

    def run(self, key: str, fn: Callable[[], Any], *, store: bool = True) -> Any:
        """One measurement; a missing endpoint is noted, never made up."""
        try:
            value = fn()
        except Missing as exc:
            self.missing[key] = f"missing: {exc}"
            return None
        except Exception as exc:  # noqa: BLE001 - reported, the other measurements go on
            self.missing[key] = f"failed: {type(exc).__name__}: {str(exc)[:500]}"
            return None
        if store:
            self.results[key] = value
        return value

    # -- order list ----------------------------------------------------------------------

    def list_page(self, client: httpx.Client, params: dict[str, Any]) -> dict[str, Any]:
        data = expect(client.get("/api/v1/orders", params=params), 200).json()
        if "next" not in data:
            raise Missing("GET /api/v1/orders has no keyset paging yet (no 'next' in the answer)")
        return data

    def list_case(
        self, params: dict[str, Any], check: Callable[[dict[str, Any]], bool] | None
    ) -> dict[str, Any]:
        with httpx.Client(base_url=self.base, headers=self.planner, timeout=60) as client:
            first = self.list_page(client, params)
            if not first["items"]:
                raise RuntimeError(f"no orders for {params}: the filter cannot be judged")
            if check is not None and not all(check(o) for o in first["items"]):
                raise Missing(f"GET /api/v1/orders ignores the filter {sorted(params)}")

            def call(_: int) -> None:
                expect(client.get("/api/v1/orders", params=params), 200)

            out = latency(call, warmup=self.warmup, requests=self.requests, runs=self.runs)
            return {**out, "params": params, "items": len(first["items"])}

    def deep_case(self) -> dict[str, Any]:
        with httpx.Client(base_url=self.base, headers=self.planner, timeout=60) as client:
            params: dict[str, Any] = {"limit": 50}
            walk = []
            seen = 0
            for _ in range(self.deep_pages):
                t = time.perf_counter()
                data = self.list_page(client, params)
                walk.append((time.perf_counter() - t) * 1000)
                seen += len(data["items"])
                if not data["next"]:
                    raise RuntimeError(f"the list ended after {seen} orders")
                params = self.follow(data["next"])

            def call(_: int) -> None:
                expect(client.get("/api/v1/orders", params=params), 200)

            out = latency(call, warmup=self.warmup, requests=self.requests, runs=self.runs)
            return {
                **out,
                "depth_pages": self.deep_pages,
                "orders_before": seen,
                "walk": summary(walk),
                "params": params,
            }

    @staticmethod
    def follow(nxt: Any) -> dict[str, Any]:
        """The next page's query: ``next`` is the ``after`` cursor, or a URL/query string."""
        if isinstance(nxt, str) and ("?" in nxt or nxt.startswith(("/", "http"))):
            query = httpx.URL(nxt).params
            return dict(query.multi_items())
        return {"limit": 50, "after": nxt}

    def order_list(self) -> None:
        busiest, status = self.sql(
            "SELECT customer_id, 'executed' FROM orders WHERE tenant_id = %s AND status = 'executed'"
            " AND customer_id NOT IN (SELECT id FROM customers WHERE is_cash) GROUP BY customer_id ORDER BY count(*) DESC LIMIT 1",
            self.tenant_id,
        )[0]
        year_ago = datetime.now(UTC).date() - timedelta(days=365)
        week = (year_ago, year_ago + timedelta(days=6))
        cases: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], bool] | None]] = {
            "first_page": ({"limit": 50}, None),
            "status_and_customer": (
                {"limit": 50, "status": status, "customer_id": busiest},
                lambda o: o["status"] == status and o["customer_id"] == busiest,
            ),
            "date_range": (
                {"limit": 50, "date_from": week[0].isoformat(), "date_to": week[1].isoformat()},
                lambda o: (
                    o["requested_date"] is not None
                    and week[0].isoformat() <= o["requested_date"] <= week[1].isoformat()
                ),
            ),
        }
        detail: dict[str, Any] = {}
        for name, (params, check) in cases.items():

            def case(
                p: dict[str, Any] = params, c: Callable[[dict[str, Any]], bool] | None = check
            ) -> dict[str, Any]:
                return self.list_case(p, c)

            detail[name] = self.run(f"order_list.{name}", case, store=False)
        detail["deep_page"] = self.run("order_list.deep_page", self.deep_case, store=False)
        self.results["order_list"] = detail
        # Not one of the figures: the list's free-text search (``q``), for comparison.
        name = self.sql("SELECT name FROM customers WHERE id = %s", busiest)[0][0]
        surname = next((n for n in SURNAMES if n in name), name.split()[0])
        self.results["order_list_search"] = self.run(
            "order_list_search",
            lambda: self.list_case(
                {"limit": 50, "q": surname},
                lambda o: (
                    surname.lower() in (o.get("customer_name") or "").lower()
                    or surname.lower() in (o.get("reference") or "").lower()
                ),
            ),
            store=False,
        )

    # -- order detail and creation -------------------------------------------------------

    def order_detail(self) -> dict[str, Any]:
        ids = [
            r[0]
            for r in self.sql(
                "SELECT id FROM orders TABLESAMPLE SYSTEM (5) WHERE tenant_id = %s LIMIT 5000",
                self.tenant_id,
            )
        ]
        if len(ids) < 100:
            ids = [
                r[0] for r in self.sql("SELECT id FROM orders WHERE tenant_id = %s", self.tenant_id)
            ]
        self.rnd.shuffle(ids)
        with httpx.Client(base_url=self.base, headers=self.planner, timeout=60) as client:

            def call(i: int) -> None:
                expect(client.get(f"/api/v1/orders/{ids[i % len(ids)]}"), 200)

            return latency(call, warmup=self.warmup, requests=self.requests, runs=self.runs)

    def create_body(self, customers: list[tuple[int, int | None]], i: int) -> dict[str, Any]:
        from cloud.orders.schemas import OrderCreate

        customer, site = customers[i % len(customers)]
        material_id, material = self.materials[i % len(self.materials)]
        body: dict[str, Any] = {
            "customer_id": customer,
            "order_type": "container_exchange",
            "site_id": site,
            "requested_date": (datetime.now(UTC).date() + timedelta(days=1 + i % 10)).isoformat(),
            "container_type": CONTAINERS[i % len(CONTAINERS)],
            "material_id": material_id,
            "material": material,
            "expected_containers": 1,
            "reference": f"PO-{i:06d}",
            "notes": NOTES[i % len(NOTES)],
        }
        fields = OrderCreate.model_fields
        return {k: v for k, v in body.items() if k in fields}

    def create_order(self) -> dict[str, Any]:
        customers = [
            (c, s)
            for c, s in self.sql(
                "SELECT c.id, min(s.id) FROM customers c JOIN sites s ON s.customer_id = c.id"
                " WHERE c.tenant_id = %s GROUP BY c.id ORDER BY c.id LIMIT 500",
                self.tenant_id,
            )
        ]
        self.rnd.shuffle(customers)
        self.materials = self.sql(
            "SELECT id, description FROM materials WHERE tenant_id = %s AND NOT hazardous ORDER BY id",
            self.tenant_id,
        )
        before = self.sql("SELECT count(*) FROM orders WHERE tenant_id = %s", self.tenant_id)[0][0]
        made = [0]
        with httpx.Client(base_url=self.base, headers=self.planner, timeout=60) as client:

            def call(i: int) -> None:
                expect(client.post("/api/v1/orders", json=self.create_body(customers, i)), 201)
                made[0] += 1

            out = latency(call, warmup=self.warmup, requests=self.requests, runs=self.runs)
        after = self.sql("SELECT count(*) FROM orders WHERE tenant_id = %s", self.tenant_id)[0][0]
        return {**out, "orders_created": after - before, "requests_ok": made[0]}

    # -- webshop webhook -----------------------------------------------------------------

    def webhook_secret(self) -> tuple[str, str]:
        """(secret, how it was obtained): ``oms webhook secret``, else the intake service."""
        assert self.server is not None
        done = self.server.cli("webhook", "secret", "--tenant", self.slug)
        lines = done.stdout.strip().splitlines()
        if done.returncode == 0 and lines and lines[-1].startswith("whsec_"):
            return lines[-1], "oms webhook secret"
        try:
            from cloud.db import make_engine, make_sessionmaker, transaction
            from cloud.intake import service
        except ImportError as exc:
            raise Missing(f"no webhook secret: `oms webhook secret` failed, {exc}") from None
        engine = make_engine(sa_url(self.db))
        with transaction(make_sessionmaker(engine)) as session:
            value = service.ensure_secret(session, tenant_id=self.tenant_id)
        engine.dispose()
        why = " ".join(w for w in done.stderr.split() if w.isascii())[-200:]
        return value, f"cloud.intake.service.ensure_secret (`oms webhook secret`: {why})"

    def webshop_payloads(self, n: int) -> list[bytes]:
        """Webshop orders: 70% from known customers (matched on e-mail, their own site's
        address), 30% from new ones (a customer and a site are made, flagged for review)."""
        known = self.sql(
            "SELECT c.email, c.name, c.kvk, s.street, s.postal_code, s.city FROM customers c"
            " JOIN sites s ON s.customer_id = c.id WHERE c.tenant_id = %s AND c.email IS NOT NULL"
            " ORDER BY c.id LIMIT 1000",
            self.tenant_id,
        )
        codes = [
            r[0]
            for r in self.sql(
                "SELECT code FROM materials WHERE tenant_id = %s AND NOT hazardous", self.tenant_id
            )
        ]
        run = uuid.uuid4().hex[:8]
        out = []
        for i in range(n):
            if known and self.rnd.random() < 0.7:
                email, name, kvk, street, postal, city = known[self.rnd.randrange(len(known))]
            else:
                email, name, kvk = f"shop-{run}-{i}@example.nl", f"Webshopklant {run} {i}", None
                street, postal, city = (
                    f"{self.rnd.choice(STREETS)} {i % 300 + 1}",
                    "1234 AB",
                    "Utrecht",
                )
            order = {
                "shop_order_id": f"WS-{run}-{i}",
                "customer": {"name": name, "email": email, **({"kvk": kvk} if kvk else {})},
                "site": {"street": street, "postal_code": postal, "city": city},
                "order_type": self.rnd.choice(
                    ("container_place", "container_exchange", "container_collect")
                ),
                "container_type": self.rnd.choice(CONTAINERS[:3]),
                "material_code": self.rnd.choice(codes),
                "requested_date": (
                    datetime.now(UTC).date() + timedelta(days=2 + i % 10)
                ).isoformat(),
                "reference": f"WEB-{i}",
            }
            out.append(json.dumps(order, separators=(",", ":")).encode())
        return out

    @staticmethod
    def signed(key: bytes, body: bytes, *, bad: bool = False) -> dict[str, str]:
        """Standard Webhooks headers: ``v1,`` + base64 HMAC-SHA256 over ``id.timestamp.body``."""
        wid = f"msg_{uuid.uuid4().hex}"
        ts = str(int(time.time()))
        mac = hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()
        if bad:
            mac = bytes(b ^ 1 for b in mac)
        return {
            "webhook-id": wid,
            "webhook-timestamp": ts,
            "webhook-signature": "v1," + base64.b64encode(mac).decode(),
            "content-type": "application/json",
        }

    def webhook(self) -> dict[str, Any]:
        secret, how = self.webhook_secret()
        key = base64.b64decode(secret.removeprefix("whsec_"))
        path = f"/api/v1/intake/webshop/{self.slug}"
        webshop = "SELECT count(*) FROM orders WHERE tenant_id = %s AND source = 'webshop'"
        with httpx.Client(base_url=self.base, timeout=60) as client:
            body = self.webshop_payloads(1)[0]
            before = self.sql(webshop, self.tenant_id)[0][0]
            bad = client.post(path, content=body, headers=self.signed(key, body, bad=True))
            if bad.status_code == 404 and bad.json().get("detail") == "Not Found":
                raise Missing(f"POST {path}: no such route (404)")
            refused = bad.status_code == 401 and self.sql(webshop, self.tenant_id)[0][0] == before
            if not refused:
                raise RuntimeError(f"a bad signature got {bad.status_code}: {bad.text[:300]}")
            expect(client.post(path, content=body, headers=self.signed(key, body)), 201, 200)

        lock = threading.Lock()
        statuses: dict[int, int] = {}

        def burst(payloads: list[bytes]) -> tuple[float, int]:
            chunks = [payloads[k :: self.webhook_threads] for k in range(self.webhook_threads)]

            def worker(chunk: list[bytes]) -> None:
                with httpx.Client(base_url=self.base, timeout=60) as c:
                    for p in chunk:
                        r = c.post(path, content=p, headers=self.signed(key, p))
                        with lock:
                            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

            before = self.sql(webshop, self.tenant_id)[0][0]
            t = time.perf_counter()
            with ThreadPoolExecutor(self.webhook_threads) as pool:
                list(pool.map(worker, chunks))
            elapsed = time.perf_counter() - t
            return elapsed, self.sql(webshop, self.tenant_id)[0][0] - before

        burst(self.webshop_payloads(min(100, self.webhook_deliveries)))  # warm-up
        runs: list[dict[str, Any]] = []
        for _ in range(self.runs):
            payloads = self.webshop_payloads(self.webhook_deliveries)
            pgid = self.server.proc.pid if self.server and self.server.proc else None
            backends = self.backends()
            cpu0 = cpu_of(pgid, backends)
            elapsed, made = burst(payloads)
            runs.append(
                {
                    "deliveries": len(payloads),
                    "orders_created": made,
                    "seconds": round(elapsed, 2),
                    "orders_per_s": round(made / elapsed, 1),
                    "cpu_cores": cores_used(cpu0, cpu_of(pgid, backends), elapsed),
                }
            )
        return {
            "orders_per_s": round(statistics.median(r["orders_per_s"] for r in runs), 1),
            "runs": runs,
            "client_threads": self.webhook_threads,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "bad_signature_refused_401": refused,
            "secret_from": how,
        }

    # -- CSV import of customers ----------------------------------------------------------

    def customers_csv(self, n: int, tag: str) -> bytes:
        """An office's customer spreadsheet: its own numbers, names, addresses, billing data."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(
            ["number", "name", "street", "postal_code", "city", "country", "vat_id", "kvk",
             "invoice_email", "email", "phone", "payment_terms_days", "invoice_grouping",
             "einvoice_format", "peppol_id"]
        )  # fmt: skip
        for i in range(n):
            kvk = f"{self.rnd.randrange(10**7, 10**8)}"
            w.writerow(
                [
                    f"I{tag}{i:06d}",
                    f"{self.rnd.choice(TRADES)} {self.rnd.choice(SURNAMES)} {tag}-{i}",
                    f"{self.rnd.choice(STREETS)} {self.rnd.randint(1, 250)}",
                    f"{self.rnd.randint(1000, 9999)} AB",
                    self.rnd.choice(CITIES),
                    "NL",
                    f"NL{self.rnd.randrange(10**8, 10**9)}B01",
                    kvk,
                    f"facturen-{tag}-{i}@example.nl",
                    f"info-{tag}-{i}@example.nl",
                    f"06{self.rnd.randrange(10**7, 10**8)}",
                    self.rnd.choice((14, 30, 30, 60)),
                    self.rnd.choice(("per_order", "per_site", "per_period")),
                    fmt := self.rnd.choice(("pdf", "pdf", "peppol_bis")),
                    f"0106:{kvk}" if fmt == "peppol_bis" else "",
                ]
            )
        return buf.getvalue().encode()

    def csv_import(self) -> dict[str, Any]:
        path = "/api/v1/imports/customers"
        count = "SELECT count(*) FROM customers WHERE tenant_id = %s"
        with httpx.Client(base_url=self.base, headers=self.owner, timeout=600) as client:

            def post(body: bytes) -> httpx.Response:
                return client.post(path, files={"file": ("customers.csv", body, "text/csv")})

            probe = post(self.customers_csv(5, uuid.uuid4().hex[:6]))
            expect(probe, 200, 201)
            runs: list[dict[str, Any]] = []
            for _ in range(self.runs):
                body = self.customers_csv(self.csv_rows, uuid.uuid4().hex[:6])
                before = self.sql(count, self.tenant_id)[0][0]
                pgid = self.server.proc.pid if self.server and self.server.proc else None
                backends = self.backends()
                cpu0 = cpu_of(pgid, backends)
                t = time.perf_counter()
                resp = expect(post(body), 200, 201)
                elapsed = time.perf_counter() - t
                made = self.sql(count, self.tenant_id)[0][0] - before
                if made != self.csv_rows:
                    raise RuntimeError(
                        f"{self.csv_rows} rows sent, {made} customers made: {resp.text[:300]}"
                    )
                runs.append(
                    {
                        "rows": made,
                        "bytes": len(body),
                        "seconds": round(elapsed, 2),
                        "rows_per_s": round(made / elapsed, 1),
                        "cpu_cores": cores_used(cpu0, cpu_of(pgid, backends), elapsed),
                    }
                )
        return {
            "rows_per_s": round(statistics.median(r["rows_per_s"] for r in runs), 1),
            "runs": runs,
        }


# -- main -----------------------------------------------------------------------------------


def pg_versions(db: str) -> dict[str, str | None]:
    with psycopg.connect(dsn(db)) as conn:
        pg = conn.execute("SHOW server_version").fetchone()
        ts = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN"
                " ('shared_buffers', 'work_mem', 'synchronous_commit', 'random_page_cost')"
            ).fetchall()
        )
    return {"postgresql": pg[0] if pg else None, "timescaledb": ts[0] if ts else None, **settings}


def headline(b: Bench) -> dict[str, Any]:
    lists = b.results.get("order_list") or {}

    def p99(value: Any) -> float | None:
        return value["p99"] if value else None

    return {
        "order_list_p99_ms": {k: p99(v) for k, v in lists.items()} or None,
        "order_detail_p99_ms": p99(b.results.get("order_detail")),
        "create_order_p99_ms": p99(b.results.get("create_order")),
        "webhook_orders_per_s": (b.results.get("webhook") or {}).get("orders_per_s"),
        "csv_import_rows_per_s": (b.results.get("csv_import") or {}).get("rows_per_s"),
    }


def verdict(head: dict[str, Any]) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for key, target in TARGETS.items():
        value = head.get(key)
        if isinstance(value, dict):
            for sub, v in value.items():
                out[f"{key}.{sub}"] = None if v is None else v <= target
        elif value is None:
            out[key] = None
        else:
            out[key] = value <= target if key.endswith("_ms") else value >= target
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="a small data set and few requests (tests)"
    )
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep the database; reuse it when it holds the same data set",
    )
    ap.add_argument(
        "--db-name", default=None, help="default oms_bench_api (oms_bench_api_quick with --quick)"
    )
    ap.add_argument(
        "--orders", type=int, default=None, help="default 1,000,000 (20,000 with --quick)"
    )
    ap.add_argument("--tenants", type=int, default=None, help="default 10 (2 with --quick)")
    ap.add_argument(
        "--customers", type=int, default=None, help="per tenant; default 2,000 (200 with --quick)"
    )
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument(
        "--requests",
        type=int,
        default=None,
        help="measured requests per run (default 300, 10 quick)",
    )
    ap.add_argument(
        "--runs", type=int, default=None, help="runs per measurement (default 3, 1 quick)"
    )
    ap.add_argument(
        "--deep-pages",
        type=int,
        default=None,
        help="pages followed for the deep page (200, 5 quick)",
    )
    ap.add_argument("--webhook-threads", type=int, default=12)
    ap.add_argument(
        "--webhook-deliveries", type=int, default=None, help="per run (default 2,000, 30 quick)"
    )
    ap.add_argument(
        "--csv-rows", type=int, default=None, help="per import (default 20,000, 200 quick)"
    )
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE the list and detail queries"
    )
    args = ap.parse_args()
    q = args.quick
    orders = args.orders or (20_000 if q else 1_000_000)
    tenants = args.tenants or (2 if q else 10)
    customers = args.customers or (200 if q else 2_000)
    db = args.db_name or ("oms_bench_api_quick" if q else "oms_bench_api")

    from cloud.logs import setup_logging

    setup_logging("WARNING")  # the services' logs go to stderr: stdout is the JSON
    url = sa_url(db)
    signature = json.dumps(
        {
            "orders": orders,
            "tenants": tenants,
            "customers": customers,
            "seed": args.seed,
            "loader": LOADER_VERSION,
        },
        sort_keys=True,
    )
    password = secrets.token_urlsafe(18)
    load_before = os.getloadavg()
    loading: dict[str, Any]
    t = time.perf_counter()
    if args.keep and db_comment(db) == signature:
        upgrade(url)
        reset_passwords(url, password)
        loading = {
            "skipped": True,
            "reason": "--keep: the database holds this data set",
            "seconds": {"total": round(time.perf_counter() - t, 1)},
        }
    else:
        recreate_db(db)
        upgrade(url)
        migrate_s = round(time.perf_counter() - t, 1)
        loading = {
            "skipped": False,
            **load(
                url,
                orders=orders,
                tenants=tenants,
                customers=customers,
                seed=args.seed,
                password=password,
            ),
        }
        loading["seconds"]["migrate"] = migrate_s
        with admin() as conn:
            conn.execute(f'COMMENT ON DATABASE "{db}" IS {sql.quote(signature)}')
    # The largest tenant is measured: the worst case for every per-tenant query.
    with psycopg.connect(dsn(db)) as conn:
        tenant_id, slug, tenant_orders = conn.execute(
            "SELECT t.id, t.slug, count(o.id) FROM tenants t JOIN orders o ON o.tenant_id = t.id"
            " WHERE t.slug LIKE 'bench-%' GROUP BY t.id ORDER BY count(o.id) DESC LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        total_orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]  # type: ignore[index]
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            server = Server(url, args.workers, Path(tmpdir))
            server.start()
            try:
                bench = Bench(
                    base=server.base,
                    db=db,
                    tenant_id=tenant_id,
                    slug=slug,
                    planner=login(server.base, f"planner@{slug}.bench.test", password),
                    owner=login(server.base, f"owner@{slug}.bench.test", password),
                    warmup=args.requests // 10 if args.requests else (3 if q else 30),
                    requests=args.requests or (10 if q else 300),
                    runs=args.runs or (1 if q else 3),
                    deep_pages=args.deep_pages or (5 if q else 200),
                    rnd=random.Random(args.seed + 1),
                    server=server,
                    webhook_threads=args.webhook_threads,
                    webhook_deliveries=args.webhook_deliveries or (30 if q else 2_000),
                    csv_rows=args.csv_rows or (200 if q else 20_000),
                )
                bench.order_list()
                bench.run("order_detail", bench.order_detail)
                bench.run("create_order", bench.create_order)
                bench.run("webhook", bench.webhook)
                bench.run("csv_import", bench.csv_import)
                if args.explain:
                    bench.run("explain", lambda: explain(url, bench))
            finally:
                server.stop()
                server_log = server.log_tail()
        head = headline(bench)
        out = {
            "benchmark": "api",
            **head,
            "targets": TARGETS,
            "meets_target": verdict(head),
            "missing": bench.missing,
            "details": bench.results,
            "load": loading,
            "environment": {
                "orders": total_orders,
                "tenants": tenants,
                "customers_per_tenant": customers,
                "measured_tenant": {"slug": slug, "orders": tenant_orders},
                "workers": args.workers,
                "db_pool_size_per_worker": 5,
                "server": "uvicorn --factory cloud.entrypoints.app:create_app, OMS_ENVIRONMENT=production, access log off",
                "client": "httpx, sequential keep-alive requests for latencies; threads for the webhook",
                **pg_versions(db),
                "cores": os.cpu_count(),
                "loadavg_1_5_15_at_start": [round(x, 2) for x in load_before],
                "loadavg_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()],
                "python": platform.python_version(),
                "quick": q,
                "database": db,
                "kept": args.keep,
            },
        }
        if bench.missing and server_log:
            out["server_log_tail"] = server_log[-1500:]
        print(json.dumps(out, default=str))
    finally:
        if not args.keep:
            drop_db(db)


def explain(url: str, bench: Bench) -> dict[str, Any]:
    """EXPLAIN ANALYZE of every SELECT the app runs for the measured list and detail requests:
    the same app, in this process, with its statements captured (the token is the server's)."""
    from fastapi.testclient import TestClient
    from pydantic import SecretStr
    from sqlalchemy import event

    from cloud.db import make_engine, make_sessionmaker
    from cloud.entrypoints.app import create_app
    from cloud.settings import Settings

    engine = make_engine(url)
    captured: list[tuple[str, Any]] = []
    capturing = [False]

    @event.listens_for(engine, "before_cursor_execute")
    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if capturing[0] and statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    settings = Settings(
        environment="production", secret_key=SecretStr(secrets.token_urlsafe(32)), database_url=url
    )
    app = create_app(settings, make_sessionmaker(engine))
    lists = {**(bench.results.get("order_list") or {})}
    lists["search_q"] = bench.results.get("order_list_search")
    cases: dict[str, str] = {
        name: "/api/v1/orders?" + str(httpx.QueryParams(v["params"]))
        for name, v in lists.items()
        if v
    }
    detail_id = bench.sql(
        "SELECT max(id) FROM orders WHERE tenant_id = %s AND status = 'invoiced'", bench.tenant_id
    )[0][0]
    cases["order_detail"] = f"/api/v1/orders/{detail_id}"
    out: dict[str, Any] = {}
    with TestClient(app, headers=bench.planner) as client:
        for name, path in cases.items():
            client.get(path)  # warm
            captured.clear()
            capturing[0] = True
            resp = client.get(path)
            capturing[0] = False
            plans: list[dict[str, Any]] = []
            with engine.connect() as conn:
                for statement, params in captured:
                    text = [
                        r[0]
                        for r in conn.exec_driver_sql(
                            "EXPLAIN (ANALYZE, BUFFERS) " + statement, params
                        )
                    ]
                    ms = next(
                        (
                            float(t.split(":")[1].split()[0])
                            for t in text
                            if t.startswith("Execution Time")
                        ),
                        0.0,
                    )
                    plans.append(
                        {"ms": ms, "sql": " ".join(statement.split())[:600], "plan": text[:14]}
                    )
                conn.rollback()
            plans.sort(key=lambda p: -p["ms"])
            out[name] = {
                "status": resp.status_code,
                "statements": len(plans),
                "sum_ms": round(sum(p["ms"] for p in plans), 2),
                "slowest": plans[:3],
            }
    engine.dispose()
    return out


if __name__ == "__main__":
    main()
