"""CSV import: every bad row reported with line, column and reason while nothing is written;
a good file imported whole, audited; delimiters, BOM, Dutch headers; limits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.audit.models import FieldChange
from cloud.csvimport import parsing
from cloud.csvimport.errors import ImportRejected, ImportTooLarge, UnknownImportEntity
from cloud.csvimport.service import import_csv
from cloud.customers.models import Customer, Site
from cloud.db import transaction
from tests.cloud import masterdata_support
from tests.cloud.masterdata_support import Office, count

pytestmark = pytest.mark.integration

# fixtures
client = masterdata_support.client
offices = masterdata_support.offices

CUSTOMERS = (
    "number;name;street;postal_code;city;vat_id;kvk;invoice_email;payment_terms_days\n"
    "10001;De Vries B.V.;Werkeiland 4;8043aa;Zwolle;NL009876543B01;87654321;f@devries.example;30\n"
    "10002;Jansen Sloop;Dorpsstraat 1;7721 AB;Dalfsen;;12345678;;14\n"
    '10003;"Bakker; Zn.";Kade 2;8011CD;Zwolle;BE0123456789;;;0\n'
)


def run(
    factory: sessionmaker[Session],
    office: Office,
    text: str | bytes,
    *,
    entity: str = "customers",
    dry_run: bool = False,
    filename: str = "klanten.csv",
) -> Any:
    data = text.encode() if isinstance(text, str) else text
    with transaction(factory) as s:
        return import_csv(
            s,
            tenant_id=office.tenant_id,
            entity=entity,
            data=data,
            filename=filename,
            by_user_id=office.user_id,
            dry_run=dry_run,
        )


def rejected(
    factory: sessionmaker[Session], office: Office, text: str | bytes, **kw: Any
) -> list[tuple[int, str | None, str]]:
    with pytest.raises(ImportRejected) as info:
        run(factory, office, text, **kw)
    return [(p.line, p.column, p.reason) for p in info.value.rows]


def test_a_good_file_is_imported_whole_and_audited(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    a, b = offices
    result = run(factory, a, CUSTOMERS)
    assert (result.entity, result.rows, result.imported, result.dry_run) == (
        "customers",
        3,
        3,
        False,
    )
    with factory() as s:
        rows = s.scalars(
            select(Customer).where(Customer.tenant_id == a.tenant_id).order_by(Customer.number)
        ).all()
        assert [c.number for c in rows] == ["10001", "10002", "10003"]
        assert rows[0].postal_code == "8043 AA" and rows[0].payment_terms_days == 30
        assert rows[1].vat_id is None and rows[1].invoice_email is None
        assert rows[2].name == "Bakker; Zn." and rows[2].payment_terms_days == 0
        audit = s.scalars(
            select(FieldChange).where(
                FieldChange.entity_id == rows[0].id, FieldChange.entity == "customer"
            )
        ).all()
        assert {f.field for f in audit} >= {"number", "name", "kvk", "postal_code"}
        assert {f.reason for f in audit} == {"CSV import klanten.csv"}
        assert {f.by_user_id for f in audit} == {a.user_id}
    # the same numbers at another tenant are no conflict
    assert run(factory, b, CUSTOMERS).imported == 3


def test_one_bad_row_names_line_column_reason_and_nothing_is_written(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    a, _ = offices
    bad = CUSTOMERS.replace(";12345678;", ";1234567;")  # line 3: a KvK of 7 digits
    assert rejected(factory, a, bad) == [(3, "kvk", "a KvK number has 8 digits")]
    assert count(factory, Customer, tenant_id=a.tenant_id) == 0
    assert count(factory, FieldChange, tenant_id=a.tenant_id, entity="customer") == 0


def test_every_bad_row_is_reported(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    a, _ = offices
    text = (
        "Klantnummer;Naam;Postcode;Betalingstermijn;E-factuur;Peppol\n"
        "1;Goed;1234 AB;30;pdf;\n"
        "2;;1234 AB;30;pdf;\n"  # 3: no name
        "\n"  # 4: blank, skipped but counted
        "3;Slecht;12345;400;pdf;\n"  # 5: two problems
        "4;Peppol zonder id;;30;peppol_bis;\n"  # 6: a rule over two fields
        "5;Te veel;;30;pdf;;extra\n"  # 7: more values than columns
    )
    problems = rejected(factory, a, text)
    assert [(line, column) for line, column, _ in problems] == [
        (3, "Naam"),
        (5, "Postcode"),
        (5, "Betalingstermijn"),
        (6, "Peppol"),
        (7, None),
    ]
    reasons = dict(((line, column), reason) for line, column, reason in problems)
    assert "Dutch postal code" in reasons[(5, "Postcode")]
    assert "365" in reasons[(5, "Betalingstermijn")]
    assert reasons[(6, "Peppol")] == "required when einvoice_format is peppol_bis"
    assert "7 values" in reasons[(7, None)]
    assert count(factory, Customer, tenant_id=a.tenant_id) == 0


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda t: t, id="semicolon"),
        pytest.param(
            lambda t: t.replace(";", ",").replace('"Bakker, Zn."', '"Bakker; Zn."'), id="comma"
        ),
        pytest.param(lambda t: "\ufeff" + t, id="bom"),
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda t: t.replace(";", "\t"), id="tab"),
    ],
)
def test_delimiters_bom_and_line_ends(
    factory: sessionmaker[Session], offices: tuple[Office, Office], transform: Any
) -> None:
    a, _ = offices
    text = CUSTOMERS.replace('"Bakker; Zn."', '"Bakker, Zn."')
    assert run(factory, a, transform(text)).imported == 3
    with factory() as s:
        names = set(s.scalars(select(Customer.name).where(Customer.tenant_id == a.tenant_id)))
    assert names == {"De Vries B.V.", "Jansen Sloop", "Bakker, Zn."} or "Bakker; Zn." in names


def test_duplicates_in_the_file_and_with_the_database(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    a, _ = offices
    run(factory, a, "number;name\n500;Bestaat\n")
    text = "number;name\n501;A\n502;B\n501;C\n500;D\n"
    assert rejected(factory, a, text) == [
        (4, "number", "customer number '501' is also on line 2"),
        (5, "number", "customer number '500' exists"),
    ]
    assert count(factory, Customer, tenant_id=a.tenant_id) == 1


def test_header_problems_are_line_1(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    a, _ = offices
    problems = rejected(factory, a, "nummer;plaats;kleur;Plaats\n1;Zwolle;rood;Kampen\n")
    assert (1, "kleur", problems[0][2]) == problems[0] and "unknown column" in problems[0][2]
    assert (1, "Plaats", "column city appears twice") in problems
    assert (1, "name", "required column missing") in problems
    assert rejected(factory, a, "") == [(1, None, "the file is empty: a header row is required")]
    # empty columns after the last one (Excel) are fine, a value under them is not
    assert run(factory, a, "number;name;;\n1;Een;;\n").imported == 1
    assert rejected(factory, a, "number;name;;\n2;Twee;;x\n") == [
        (2, None, "a value in a column without a name")
    ]


def test_not_utf8_is_refused_with_its_line(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    a, _ = offices
    data = "number;name\n1;Goed\n2;Caf\xe9\n".encode("cp1252")
    [(line, column, reason)] = rejected(factory, a, data)
    assert line == 3 and column is None and "UTF-8" in reason


def test_dry_run_checks_everything_and_writes_nothing(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    a, _ = offices
    result = run(factory, a, CUSTOMERS, dry_run=True)
    assert (result.rows, result.imported, result.dry_run) == (3, 0, True)
    assert count(factory, Customer, tenant_id=a.tenant_id) == 0
    assert count(factory, FieldChange, tenant_id=a.tenant_id, entity="customer") == 0
    bad = CUSTOMERS.replace("8043aa", "80431")
    assert rejected(factory, a, bad, dry_run=True)[0][:2] == (2, "postal_code")


def test_sites_refer_to_customers_by_number(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    a, b = offices
    run(factory, a, CUSTOMERS)
    run(factory, b, "number;name\n77777;Andere tenant\n")
    text = (
        "Naam;Soort;Klantnummer;Straat;Postcode;Plaats;Breedtegraad;Lengtegraad;Verwerkersnummer\n"
        "Bouwplaats;customer_site;10001;Werkeiland 4;8043 AA;Zwolle;52,5302417;6,0563112;\n"
        "Werf;OWN_YARD;;Havenweg 1;8011AA;Zwolle;;;\n"
        "Verwerker;processor;;;;;;;80123\n"
    )
    assert run(factory, a, text, entity="sites").imported == 3
    with factory() as s:
        sites = s.scalars(select(Site).where(Site.tenant_id == a.tenant_id).order_by(Site.id)).all()
        owner = s.scalar(
            select(Customer.id).where(Customer.tenant_id == a.tenant_id, Customer.number == "10001")
        )
        assert sites[0].customer_id == owner
        assert str(sites[0].lat) == "52.5302417" and str(sites[0].lon) == "6.0563112"
        assert sites[1].kind == "own_yard" and sites[1].postal_code == "8011 AA"
        assert sites[2].processor_number == "80123"
    bad = (
        "name;customer_number;kind;processor_number\n"
        "A;99999;customer_site;\n"  # unknown number
        "B;77777;customer_site;\n"  # another tenant's customer: unknown here
        "C;;customer_site;\n"  # a customer site needs its customer
        "D;;processor;80123\n"  # taken
    )
    assert rejected(factory, a, bad, entity="sites") == [
        (2, "customer_number", "no customer with number '99999'"),
        (3, "customer_number", "no customer with number '77777'"),
        (4, "customer_number", "a customer site needs its customer"),
        (5, "processor_number", "processor number '80123' exists"),
    ]
    assert count(factory, Site, tenant_id=a.tenant_id) == 3


def test_limits(
    factory: sessionmaker[Session], offices: tuple[Office, Office], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = offices
    with pytest.raises(ImportTooLarge):
        run(factory, a, b"number;name\n" + b"x" * parsing.MAX_BYTES)
    monkeypatch.setattr(parsing, "MAX_ROWS", 2)
    with pytest.raises(ImportTooLarge):
        run(factory, a, "number;name\n1;a\n2;b\n3;c\n")
    with pytest.raises(UnknownImportEntity):
        run(factory, a, "x\n1\n", entity="planets")


# -- through the API -----------------------------------------------------------------------------


def test_api_multipart_text_csv_dry_run_and_errors(
    client: TestClient, offices: tuple[Office, Office], factory: sessionmaker[Session]
) -> None:
    a, _ = offices
    url = "/api/v1/imports/customers"
    files = {"file": ("klanten.csv", CUSTOMERS.encode(), "text/csv")}
    r = client.post(url, params={"dry_run": "true"}, files=files, headers=a.auth())
    assert r.status_code == 200, r.text
    assert r.json() == {"entity": "customers", "rows": 3, "imported": 0, "dry_run": True}
    assert count(factory, Customer, tenant_id=a.tenant_id) == 0

    bad = CUSTOMERS.replace("NL009876543B01", "NL1")
    r = client.post(url, files={"file": ("x.csv", bad.encode(), "text/csv")}, headers=a.auth())
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "ImportRejected" and "nothing was imported" in body["detail"]
    assert body["rows"] == [{"line": 2, "column": "vat_id", "reason": body["rows"][0]["reason"]}]
    assert "Dutch VAT id" in body["rows"][0]["reason"]
    assert count(factory, Customer, tenant_id=a.tenant_id) == 0

    r = client.post(
        url, content=CUSTOMERS.encode(), headers={**a.auth(), "Content-Type": "text/csv"}
    )
    assert r.status_code == 200 and r.json()["imported"] == 3
    with factory() as s:
        reasons = set(
            s.scalars(
                select(FieldChange.reason).where(
                    FieldChange.tenant_id == a.tenant_id, FieldChange.entity == "customer"
                )
            )
        )
    assert reasons == {"CSV import upload.csv"}

    r = client.post(
        url, content=b'{"a": 1}', headers={**a.auth(), "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"] == "NoFile"
    r = client.post("/api/v1/imports/planets", files=files, headers=a.auth())
    assert r.status_code == 422


def test_api_too_large_is_413_and_roles(client: TestClient, offices: tuple[Office, Office]) -> None:
    a, _ = offices
    url = "/api/v1/imports/customers"
    big = b"number;name\n" + b"1;x\n" * (parsing.MAX_BYTES // 4 + 1)
    r = client.post(url, files={"file": ("big.csv", big, "text/csv")}, headers=a.auth())
    assert r.status_code == 413 and r.json()["error"] == "ImportTooLarge"
    r = client.post(url, content=big, headers={**a.auth(), "Content-Type": "text/csv"})
    assert r.status_code == 413
    files = {"file": ("k.csv", CUSTOMERS.encode(), "text/csv")}
    assert client.post(url, files=files, headers=a.auth("planner")).status_code == 403
    assert client.post(url, files=files, headers=a.auth("owner")).status_code == 200


# -- every entity -----------------------------------------------------------------------------


def test_every_entitys_example_imports_and_refers_by_natural_key(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    from cloud.csvimport.entities import REGISTRY
    from cloud.fleet.models import Driver, Vehicle
    from cloud.materials.models import Material, WasteStream
    from cloud.tenancy.service import create_user

    a, _ = offices
    with transaction(factory) as s:
        create_user(s, tenant_id=a.tenant_id, email="Jan@Example.com", name="Jan",
                    password=None, roles=["driver"])  # fmt: skip
    order = ["articles", "materials", "customers", "sites", "waste_streams", "vehicles",
             "containers", "drivers"]  # fmt: skip
    assert sorted(order) == sorted(REGISTRY)
    for entity in order:
        text = REGISTRY[entity].example
        assert run(factory, a, text, entity=entity, filename=f"{entity}.csv").imported >= 1, entity
    with factory() as s:
        stream = s.scalars(select(WasteStream)).one()
        material = s.scalars(select(Material)).one()
        processor = s.scalars(select(Site).where(Site.processor_number == "80123")).one()
        assert (stream.material_id, stream.processor_site_id) == (material.id, processor.id)
        assert str(stream.valid_from) == "2026-01-01"
        vehicle = s.scalars(select(Vehicle)).one()
        assert vehicle.plate == "BX-123-Z" and vehicle.stored_tare_kg == Decimal("14220.5")
        assert vehicle.allowed_container_types == ["afzetcontainer", "rolcontainer"]
        driver = s.scalars(select(Driver)).one()
        assert driver.adr and driver.licence_categories == ["C", "CE"]
        reasons = set(
            s.scalars(
                select(FieldChange.reason).where(
                    FieldChange.entity.in_(["vehicle", "driver", "material", "waste_stream"])
                )
            )
        )
        assert reasons == {
            "CSV import vehicles.csv",
            "CSV import drivers.csv",
            "CSV import materials.csv",
            "CSV import waste_streams.csv",
        }


def test_rules_of_the_domain_services_are_reported_per_row(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    from cloud.fleet.models import Vehicle
    from cloud.tenancy.service import create_user

    a, _ = offices
    with transaction(factory) as s:
        create_user(s, tenant_id=a.tenant_id, email="kantoor@acme.example", name="K",
                    password=None, roles=["planner"])  # fmt: skip
    text = (
        "Kenteken;Soort;Klantnummer;Chauffeur\n"
        "BX-123-Z;truck;;\n"
        "bx 123 z;truck;;\n"  # the same plate, written otherwise
        "AB-12-CD;customer_vehicle;;\n"  # a customer vehicle without its customer
        "XY-99-ZZ;truck;;kantoor@acme.example\n"  # not a driver
        "QQ-11-QQ;truck;;niemand@acme.example\n"  # no such user
    )
    problems = rejected(factory, a, text, entity="vehicles")
    assert [(line, column) for line, column, _ in problems] == [
        (3, "Kenteken"),
        (4, "Klantnummer"),
        (5, "Chauffeur"),
        (6, "Chauffeur"),
    ], problems
    assert "also on line 2" in problems[0][2]
    assert count(factory, Vehicle, tenant_id=a.tenant_id) == 0


def test_rows_without_a_number_get_free_ones(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    a, _ = offices
    assert run(factory, a, "number;name\n000001;Met nummer\n;Zonder\n;Ook zonder\n").imported == 3
    with factory() as s:
        numbers = sorted(
            s.scalars(select(Customer.number).where(Customer.tenant_id == a.tenant_id))
        )
    assert numbers == ["000001", "000002", "000003"]


def test_the_api_offers_every_registered_entity() -> None:
    from typing import get_args

    from cloud.api.routers.imports import Entity
    from cloud.csvimport.entities import REGISTRY

    assert set(get_args(Entity)) == set(REGISTRY)


def test_a_dot_grouped_number_is_never_guessed(
    factory: sessionmaker[Session], offices: tuple[Office, Office]
) -> None:
    """``26.000`` is 26 thousand in Dutch Excel and 26 in English: a weight would come out
    1,000 times off. It is refused with its line; ``26000``, ``26.000,0`` and ``26,5`` are
    read exactly."""
    a, _ = offices
    head = "plate;max_load_kg\n"
    problems = rejected(factory, a, head + "AB-12-CD;26.000\n", entity="vehicles")
    assert [(line, column) for line, column, _ in problems] == [(2, "max_load_kg")]
    assert "ambiguous" in problems[0][2]
    run(
        factory,
        a,
        head + "AB-12-CD;26000\nAB-12-CE;26.000,0\nAB-12-CF;26,5\n",
        entity="vehicles",
    )
    from cloud.fleet.models import Vehicle

    with factory() as s:
        loads = {
            v.plate: v.max_load_kg
            for v in s.scalars(select(Vehicle).where(Vehicle.tenant_id == a.tenant_id))
        }
    assert loads == {
        "AB-12-CD": Decimal("26000"),
        "AB-12-CE": Decimal("26000"),
        "AB-12-CF": Decimal("26.5"),
    }


def test_a_key_taken_during_the_copy_is_a_conflict_not_a_500(pg_url: str) -> None:
    """PostgreSQL writes customers with COPY, below SQLAlchemy: a unique key taken by another
    writer after the file was checked must surface as the same IntegrityError an INSERT
    raises (the import answers 409 ImportConflict), never as a driver error (500)."""
    from sqlalchemy.exc import IntegrityError

    from cloud.customers.repository import insert_rows
    from cloud.db import make_engine, make_sessionmaker
    from cloud.tenancy.service import create_tenant

    engine = make_engine(pg_url, pool_size=2)
    factory = make_sessionmaker(engine)
    try:
        with transaction(factory) as s:
            tenant = create_tenant(s, slug="copy", name="Copy")
            insert_rows(s, Customer, [{"tenant_id": tenant.id, "number": "7", "name": "A"}])
        with factory() as s, pytest.raises(IntegrityError):
            insert_rows(s, Customer, [{"tenant_id": tenant.id, "number": "7", "name": "B"}])
    finally:
        engine.dispose()
