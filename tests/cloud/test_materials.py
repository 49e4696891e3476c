# ruff: noqa: F811  (pytest fixtures imported from masterdata_support, used as arguments)
"""Materials and waste streams: Eural codes, afvalstroomnummers against their processor,
audit, isolation, and ``check_waste_stream`` for every reason it refuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cloud.customers.models import Site
from cloud.customers.service import create_customer
from cloud.db import transaction
from cloud.errors import Unprocessable
from cloud.materials.errors import WasteStreamNotValid
from cloud.materials.schemas import MaterialCreate
from cloud.materials.service import check_waste_stream, create_material
from cloud.references import UnknownReference
from tests.cloud.masterdata_support import Office, client, offices  # noqa: F401

pytestmark = pytest.mark.integration


@dataclass
class Refs:
    jansen: int
    pietersen: int
    processor: int
    not_processor: int
    their_customer: int


@pytest.fixture
def refs(offices: tuple[Office, Office], factory: sessionmaker[Session]) -> Refs:
    acme, globex = offices
    with transaction(factory) as s:
        jansen = create_customer(s, tenant_id=acme.tenant_id, number="1001", name="Jansen")
        pietersen = create_customer(s, tenant_id=acme.tenant_id, number="1002", name="Pietersen")
        theirs = create_customer(s, tenant_id=globex.tenant_id, number="1001", name="Other")
        processor = Site(
            tenant_id=acme.tenant_id,
            name="Recycling Zwolle",
            kind="processor",
            processor_number="12345",
        )
        yard = Site(tenant_id=acme.tenant_id, name="Eigen terrein", kind="own_yard")
        s.add_all([processor, yard])
        s.flush()
        return Refs(jansen.id, pietersen.id, processor.id, yard.id, theirs.id)


def test_materials(
    client: TestClient, offices: tuple[Office, Office], factory: sessionmaker[Session]
) -> None:
    acme, globex = offices
    r = client.post(
        "/api/v1/materials",
        headers=acme.auth(),
        json={"code": "BSA", "description": "Bouw- en sloopafval", "eural_code": "17 09 04"},
    )
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["eural_code"] == "170904" and m["hazardous"] is False
    r = client.patch(
        f"/api/v1/materials/{m['id']}", headers=acme.auth(), json={"eural_code": "17 05 03*"}
    )
    assert r.json()["eural_code"] == "170503*" and r.json()["hazardous"] is True
    for bad in ("1709", "17 09 04 x", "170904**", "ABCDEF"):
        r = client.post(
            "/api/v1/materials",
            headers=acme.auth(),
            json={"code": "X", "description": "x", "eural_code": bad},
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "eural_code"], bad
    r = client.post(
        "/api/v1/materials",
        headers=acme.auth(),
        json={"code": "X", "description": "x", "hazardous": True},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "hazardous"]
    r = client.post(
        "/api/v1/materials", headers=acme.auth(), json={"code": "BSA", "description": "again"}
    )
    assert r.status_code == 409 and r.json()["error"] == "MaterialExists"
    r = client.post(
        "/api/v1/materials",
        headers=acme.auth(),
        json={"code": "Y", "description": "y", "article_id": 999999},
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("article_id: no such record")
    history = client.get(f"/api/v1/materials/{m['id']}/history", headers=acme.auth()).json()
    assert ("hazardous", "false", "true") in [
        (h["field"], h["old_value"], h["new_value"]) for h in history
    ]
    assert (
        client.get("/api/v1/materials?hazardous=true", headers=acme.auth()).json()["items"][0]["id"]
        == m["id"]
    )
    assert (
        client.get("/api/v1/materials?q=170503", headers=acme.auth()).json()["items"][0]["id"]
        == m["id"]
    )
    assert client.get(f"/api/v1/materials/{m['id']}", headers=globex.auth()).status_code == 404
    assert client.get("/api/v1/materials", headers=globex.auth()).json()["items"] == []
    # CSV import path: plain strings
    with transaction(factory) as s:
        data = MaterialCreate.model_validate(
            {
                "code": "GRN",
                "description": "Groenafval",
                "eural_code": "20 02 01",
                "is_active": "true",
            }
        )
        assert (
            create_material(s, tenant_id=acme.tenant_id, data=data, by_user_id=None).eural_code
            == "200201"
        )


def _material(client: TestClient, office: Office, code: str) -> int:
    r = client.post(
        "/api/v1/materials",
        headers=office.auth(),
        json={"code": code, "description": f"{code} afval"},
    )
    assert r.status_code == 201
    return int(r.json()["id"])


def test_waste_streams_are_validated(
    client: TestClient, offices: tuple[Office, Office], refs: Refs
) -> None:
    acme, globex = offices
    material = _material(client, acme, "BSA")
    their_material = _material(client, globex, "BSA")
    base = {
        "number": "12345 1234567",
        "customer_id": refs.jansen,
        "processor_site_id": refs.processor,
        "material_id": material,
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
    }

    def refused(change: dict[str, object]) -> tuple[str, str]:
        r = client.post("/api/v1/waste-streams", headers=acme.auth(), json=base | change)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        return r.json()["error"], detail if isinstance(detail, str) else str(detail[0]["loc"])

    assert refused({"number": "54321 1234567"}) == (
        "WasteStreamInvalid",
        "number: afvalstroomnummer 543211234567 does not start with 12345, "
        "the processor number of Recycling Zwolle",
    )
    assert refused({"processor_site_id": refs.not_processor}) == (
        "WasteStreamInvalid",
        "processor_site_id: site Eigen terrein is not a processor with a processor number",
    )
    assert refused({"number": "12345123456"}) == ("ValidationError", "['body', 'number']")
    assert refused({"valid_until": "2025-12-31"}) == ("ValidationError", "['body']")
    assert refused({"customer_id": refs.their_customer})[1].startswith(
        "customer_id: no such record"
    )
    assert refused({"material_id": their_material})[1].startswith("material_id: no such record")
    r = client.post("/api/v1/waste-streams", headers=acme.auth(), json=base)
    assert r.status_code == 201, r.text
    ws = r.json()
    assert ws["number"] == "123451234567"
    assert client.post("/api/v1/waste-streams", headers=acme.auth(), json=base).status_code == 409
    r = client.patch(
        f"/api/v1/waste-streams/{ws['id']}", headers=acme.auth(), json={"valid_from": "2027-01-01"}
    )
    assert r.status_code == 422 and r.json()["detail"].startswith(
        "valid_until: 2026-12-31 is before"
    )
    r = client.patch(
        f"/api/v1/waste-streams/{ws['id']}",
        headers=acme.auth(),
        json={"valid_until": None, "is_active": False},
    )
    assert r.status_code == 200 and r.json()["valid_until"] is None
    history = client.get(f"/api/v1/waste-streams/{ws['id']}/history", headers=acme.auth()).json()
    assert ("valid_until", "2026-12-31", None) in [
        (h["field"], h["old_value"], h["new_value"]) for h in history
    ]
    assert client.get(f"/api/v1/waste-streams/{ws['id']}", headers=globex.auth()).status_code == 404
    listed = client.get(
        f"/api/v1/waste-streams?customer_id={refs.jansen}&q=12345", headers=acme.auth()
    ).json()
    assert [x["id"] for x in listed["items"]] == [ws["id"]]


def test_check_waste_stream(
    client: TestClient, offices: tuple[Office, Office], refs: Refs, factory: sessionmaker[Session]
) -> None:
    acme, globex = offices
    bsa = _material(client, acme, "BSA")
    groen = _material(client, acme, "GRN")
    r = client.post(
        "/api/v1/waste-streams",
        headers=acme.auth(),
        json={
            "number": "123451234567",
            "customer_id": refs.jansen,
            "processor_site_id": refs.processor,
            "material_id": bsa,
            "valid_from": "2027-01-01",
            "valid_until": "2027-12-31",
        },
    )
    ws = r.json()["id"]
    t = acme.tenant_id
    with factory() as s:
        ok = check_waste_stream(
            s,
            tenant_id=t,
            waste_stream_id=ws,
            customer_id=refs.jansen,
            material_id=bsa,
            on=date(2027, 6, 1),
        )
        assert ok.number == "123451234567"
        assert (
            check_waste_stream(
                s,
                tenant_id=t,
                waste_stream_id=ws,
                customer_id=refs.jansen,
                material_id=None,
                on=None,
            ).id
            == ws
        )

        def reasons(**kw: object) -> list[str]:
            args: dict[str, object] = {
                "customer_id": refs.jansen,
                "material_id": bsa,
                "on": date(2027, 6, 1),
            } | kw
            with pytest.raises(WasteStreamNotValid) as e:
                check_waste_stream(s, tenant_id=t, waste_stream_id=ws, **args)  # type: ignore[arg-type]
            assert isinstance(e.value, Unprocessable) and e.value.status_code == 422
            return e.value.reasons

        assert reasons(customer_id=refs.pietersen) == [
            "afvalstroomnummer 123451234567 belongs to customer 1001 Jansen, not to 1002 Pietersen"
        ]
        assert reasons(material_id=groen) == [
            "afvalstroomnummer 123451234567 is for material BSA BSA afval, not GRN GRN afval"
        ]
        assert reasons(on=date(2026, 12, 10)) == [
            "afvalstroomnummer 123451234567 is valid from 2027-01-01 to 2027-12-31, "
            "not on 2026-12-10"
        ]
        assert len(reasons(customer_id=refs.pietersen, on=date(2028, 1, 1))) == 2
        with pytest.raises(UnknownReference) as unknown:
            check_waste_stream(
                s,
                tenant_id=globex.tenant_id,
                waste_stream_id=ws,
                customer_id=refs.jansen,
                material_id=None,
                on=None,
            )
        assert unknown.value.field == "waste_stream_id"
    client.patch(f"/api/v1/waste-streams/{ws}", headers=acme.auth(), json={"is_active": False})
    with factory() as s:
        with pytest.raises(WasteStreamNotValid) as e:
            check_waste_stream(
                s,
                tenant_id=t,
                waste_stream_id=ws,
                customer_id=refs.jansen,
                material_id=bsa,
                on=date(2027, 6, 1),
            )
        assert str(e.value) == "afvalstroomnummer 123451234567 is inactive"
