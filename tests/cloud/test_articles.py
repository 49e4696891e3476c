# ruff: noqa: F811  (pytest fixtures imported from masterdata_support, used as arguments)
"""Articles: units, VAT category and rate, prices, audit and isolation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cloud.articles.schemas import ArticleCreate
from cloud.articles.service import create_article
from cloud.db import transaction
from tests.cloud.masterdata_support import Office, client, offices  # noqa: F401

pytestmark = pytest.mark.integration


def test_articles(
    client: TestClient, offices: tuple[Office, Office], factory: sessionmaker[Session]
) -> None:
    acme, globex = offices
    body = {
        "code": "BSA-T",
        "name": "Bouw- en sloopafval per ton",
        "unit": "tne",
        "default_price": "87.5000",
    }
    r = client.post("/api/v1/articles", headers=acme.auth(), json=body)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["unit"] == "TNE" and a["vat_category"] == "S" and Decimal(a["vat_rate"]) == 21
    assert Decimal(a["default_price"]) == Decimal("87.5")
    assert client.post("/api/v1/articles", headers=acme.auth(), json=body).status_code == 409

    def refused(change: dict[str, object]) -> tuple[str, object]:
        r = client.post("/api/v1/articles", headers=acme.auth(), json=body | {"code": "N"} | change)
        assert r.status_code == 422, r.text
        d = r.json()["detail"]
        return r.json()["error"], d if isinstance(d, str) else d[0]["loc"][-1]

    assert refused({"unit": "XYZ"}) == ("ValidationError", "unit")
    assert refused({"vat_category": "Q"}) == ("ValidationError", "vat_category")
    assert refused({"default_price": "1.23456"}) == ("ValidationError", "default_price")
    assert refused({"vat_rate": 9.5}) == (
        "VatRateInvalid",
        "vat_rate: 9.5 % does not fit VAT category S (allowed: 21 or 9)",
    )
    assert refused({"vat_category": "AE", "vat_rate": 21}) == (
        "VatRateInvalid",
        "vat_rate: 21 % does not fit VAT category AE (allowed: 0)",
    )
    r = client.post(
        "/api/v1/articles", headers=acme.auth(), json=body | {"code": "R9", "vat_rate": "9"}
    )
    assert Decimal(r.json()["vat_rate"]) == 9

    url = f"/api/v1/articles/{a['id']}"
    # a new category without a rate takes the category's rate
    r = client.patch(url, headers=acme.auth(), json={"vat_category": "AE"})
    assert r.status_code == 200 and Decimal(r.json()["vat_rate"]) == 0
    r = client.patch(url, headers=acme.auth(), json={"vat_rate": 21})
    assert r.status_code == 422 and r.json()["error"] == "VatRateInvalid"
    r = client.patch(
        url, headers=acme.auth(), json={"vat_category": "S", "vat_rate": 9, "is_active": False}
    )
    assert r.status_code == 200 and r.json()["is_active"] is False
    r = client.patch(url, headers=acme.auth(), json={"unit": None})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "unit"]
    history = client.get(f"{url}/history", headers=acme.auth()).json()
    changes = [
        (h["field"], h["old_value"], h["new_value"]) for h in history if h["old_value"] is not None
    ]
    assert changes == [
        ("vat_category", "S", "AE"),
        ("vat_rate", "21", "0"),
        ("vat_category", "AE", "S"),
        ("vat_rate", "0", "9"),
        ("is_active", "true", "false"),
    ]
    assert client.get(url, headers=globex.auth()).status_code == 404
    assert client.patch(url, headers=globex.auth(), json={"name": "x"}).status_code == 404
    assert (
        client.get("/api/v1/articles?active=true&q=r9", headers=acme.auth()).json()["items"][0][
            "code"
        ]
        == "R9"
    )
    assert client.get("/api/v1/articles", headers=acme.auth("driver")).status_code == 403
    # CSV import path: plain strings
    with transaction(factory) as s:
        data = ArticleCreate.model_validate(
            {
                "code": "HUUR",
                "name": "Containerhuur per dag",
                "unit": "DAY",
                "vat_category": "s",
                "vat_rate": "21",
                "default_price": "2.50",
            }
        )
        made = create_article(s, tenant_id=acme.tenant_id, data=data, by_user_id=None)
        assert made.vat_rate == Decimal("21") and made.default_price == Decimal("2.50")
