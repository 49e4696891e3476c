"""The master data screens in Chromium: a customer made through the form (a bad field shown
on the field, then seen in the list), an edit that shows in the audit history, the CSV
import (one bad row: every problem listed and nothing imported; a good file imported), a
container that shows where it stands, a planner who may read but not write, and a
screenshot of every screen (``masterdata-<name>.png``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud.articles.schemas import ArticleCreate
from cloud.articles.service import create_article
from cloud.customers.models import Customer
from cloud.web import i18n
from cloud.web.masterdata.entities import KINDS
from cloud.web.navigation import PAGES
from tests.web.conftest import Server

HERE = Path(__file__).resolve().parents[2] / "cloud" / "web" / "masterdata"

BAD_CSV = (
    b"nummer;naam;postcode;plaats;kvk\n"
    b"3001;Sloopbedrijf Bakker;3511 AB;Utrecht;12345678\n"
    b"3002;Transport Visser;3511 AB;Utrecht;1234\n"
    b"3003;Groenbedrijf Smit;3512 CD;Utrecht;87654321\n"
)
"""Line 3 has a KvK number of 4 digits: the whole file is refused."""
GOOD_CSV = (
    b"number,name,postal_code,city,invoice_email\n"
    b"4001,Aannemer Mulder,3511AB,Utrecht,facturen@mulder.example\n"
    b"4002,Tuincentrum De Boer,1234 ab,Amsterdam,\n"
)


def _customers(server: Server, *numbers: str) -> int:
    with server.factory() as s:
        return s.scalar(
            select(func.count())
            .select_from(Customer)
            .where(Customer.tenant_id == server.shop.tenant_id, Customer.number.in_(numbers))
        )


def _upload(v: Any, entity: str, name: str, data: bytes, *, dry_run: bool = False) -> None:
    v.go("/masterdata/import")
    v.page.select_option("#f-entity", entity)
    v.page.set_input_files(
        "#f-file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
    )
    if dry_run:
        v.page.check("#f-dry_run")
    v.page.click("#import")
    v.page.wait_for_load_state()


# -- without a browser ------------------------------------------------------------------------


def test_catalogues_have_the_same_keys_and_every_used_key() -> None:
    nl = json.loads((HERE / "i18n" / "nl.json").read_text(encoding="utf-8"))
    en = json.loads((HERE / "i18n" / "en.json").read_text(encoding="utf-8"))
    assert set(nl) == set(en)
    assert all(k.startswith(("masterdata.", "flash.masterdata_")) for k in nl)
    assert not set(nl) & set(i18n.catalogue("nl")), "keys that the base catalogue has"
    used = set()
    for path in (HERE / "templates").rglob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_.]+)'", path.read_text(encoding="utf-8")))
    for kind in KINDS:
        used |= {f"{kind.texts}.{p}" for p in ("title", "one", "new", "about")}
        used |= {f"masterdata.field.{f.name}" for f in (*kind.fields, *kind.filters)}
        used |= {f"masterdata.field.{c.name}" for c in (*kind.columns, *kind.extra_facts)}
        used |= {f.hint for f in kind.fields if f.hint} | {kind.search_hint}
        used |= {f"{f.prefix}{v}" for f in kind.fields if f.prefix for v in f.values}
    everything = set(nl) | set(i18n.catalogue("nl"))
    assert {k for k in used if not k.endswith(".")} - everything == set()


def test_every_page_has_its_action() -> None:
    mine = [p for p in PAGES if p.path.startswith("/masterdata")]
    assert len(mine) == 3 + 6 * len(KINDS)
    for page in mine:
        expected = (
            "masterdata.import"
            if page.path.startswith("/masterdata/import")
            else "masterdata.write"
            if page.path.endswith(("/new", "/edit"))
            else "masterdata.read"
        )
        assert page.action == expected, page


# -- in Chromium ------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_create_a_customer_with_a_field_error_then_find_it(visit: Any, server: Server) -> None:
    v = visit()
    v.login("administrator")
    v.page.click("header nav a[href='/masterdata']")
    v.page.wait_for_selector("#masterdata-sections")
    v.shot("masterdata-index")
    v.go("/masterdata/customers")
    v.page.click("#new")
    v.page.wait_for_selector("form#masterdata-form")
    v.page.fill("#f-name", "Containerverhuur Peters")
    v.page.fill("#f-street", "Havenweg 12")
    v.page.fill("#f-postal_code", "3542ad")
    v.page.fill("#f-city", "Utrecht")
    v.page.fill("#f-kvk", "1234")  # 4 digits: refused on the field
    v.page.fill("#f-invoice_email", "Facturen@Peters.example")
    v.page.select_option("#f-einvoice_format", "peppol_bis")  # needs a Peppol id
    v.shot("masterdata-customer-new")
    v.page.click("#save")
    v.page.wait_for_selector("#kvk-error")
    assert "8 digits" in v.page.inner_text("#kvk-error")
    assert v.page.get_attribute("#f-kvk", "aria-invalid") == "true"
    assert v.page.input_value("#f-name") == "Containerverhuur Peters"  # the form is kept
    v.shot("masterdata-customer-new-error")
    v.page.fill("#f-kvk", "30123456")
    v.page.click("#save")
    v.page.wait_for_selector("#peppol_id-error")  # the rule over two fields, on its field
    v.page.fill("#f-peppol_id", "0106:30123456")
    v.page.click("#save")
    v.page.wait_for_selector("#item-title")
    assert "Opgeslagen" in v.page.inner_text(".flash")
    facts = v.page.inner_text(".facts")
    assert "3542 AD" in facts and "facturen@peters.example" in facts and "Peppol BIS" in facts
    v.shot("masterdata-customer-detail")
    v.go("/masterdata/customers?q=Peters")
    rows = v.page.locator("table#rows tbody tr")
    assert rows.count() == 1 and "Containerverhuur Peters" in rows.inner_text()
    v.go("/masterdata/customers")
    assert "Containerverhuur Peters" in v.page.inner_text("table#rows")
    v.shot("masterdata-customers")
    with server.factory() as s:
        row = s.scalar(select(Customer).where(Customer.name == "Containerverhuur Peters"))
        assert row is not None and row.kvk == "30123456" and row.tenant_id == server.shop.tenant_id


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_edit_shows_the_audit_history(visit: Any, server: Server) -> None:
    v = visit()
    v.login("administrator")
    v.go(f"/masterdata/customers/{server.shop.customer_a}")
    v.page.click("#edit")
    v.page.wait_for_selector("form#masterdata-form")
    assert v.page.input_value("#f-name") == "Bouwbedrijf De Vries"
    v.page.fill("#f-payment_terms_days", "14")
    v.page.fill("#f-invoice_email", "administratie@devries.example")
    v.page.fill("#f-reason", "nieuwe afspraak met de klant")
    v.page.click("#save")
    v.page.wait_for_selector(".flash")
    audit = v.page.inner_text("table#audit")
    assert "Betalingstermijn (dagen)" in audit and "30" in audit and "14" in audit
    assert "administratie@devries.example" in audit
    assert "nieuwe afspraak met de klant" in audit
    assert "Administrator Acme" in audit
    # Saving without a change changes nothing and records nothing.
    count = v.page.locator("table#audit tbody tr").count()
    v.page.click("#edit")
    v.page.wait_for_selector("form#masterdata-form")
    v.shot("masterdata-customer-edit")
    v.page.click("#save")
    v.page.wait_for_selector(".flash")
    assert "niets gewijzigd" in v.page.inner_text(".flash")
    assert v.page.locator("table#audit tbody tr").count() == count
    # An emptied required field is an error on it, not a cleared value.
    v.page.click("#edit")
    v.page.fill("#f-name", "")
    v.page.eval_on_selector("#f-name", "e => e.removeAttribute('required')")
    v.page.click("#save")
    v.page.wait_for_selector("#name-error")
    assert "Vul dit veld in" in v.page.inner_text("#name-error")


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_a_csv_with_one_bad_row_imports_nothing(visit: Any, server: Server) -> None:
    v = visit()
    v.login("administrator")
    v.go("/masterdata/import")
    v.shot("masterdata-import")
    _upload(v, "customers", "klanten.csv", BAD_CSV)
    v.page.wait_for_selector("table#problems")
    problems = v.page.locator("table#problems tbody tr")
    assert problems.count() == 1
    cells = problems.first.locator("td").all_inner_texts()
    assert cells[0] == "3" and cells[1] == "kvk" and "8 digits" in cells[2]
    assert "niets geïmporteerd" in v.page.inner_text("#import-rejected")
    v.shot("masterdata-import-rejected")
    assert _customers(server, "3001", "3002", "3003") == 0  # not even the good rows


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_a_good_csv_is_checked_then_imported(visit: Any, server: Server) -> None:
    v = visit()
    v.login("administrator")
    _upload(v, "customers", "klanten.csv", GOOD_CSV, dry_run=True)
    v.page.wait_for_selector("#import-result")
    assert "2 regels gecontroleerd" in v.page.inner_text("#import-result")
    assert _customers(server, "4001", "4002") == 0  # a dry run keeps nothing
    v.shot("masterdata-import-dry-run")
    _upload(v, "customers", "klanten.csv", GOOD_CSV)
    v.page.wait_for_selector("#import-result")
    assert "2 regels geïmporteerd" in v.page.inner_text("#import-result")
    v.shot("masterdata-import-done")
    assert _customers(server, "4001", "4002") == 2
    v.go("/masterdata/customers?q=Mulder")
    v.page.click("table#rows tbody tr a")
    v.page.wait_for_selector("table#audit")
    assert "CSV import klanten.csv" in v.page.inner_text("table#audit")
    assert "3511 AB" in v.page.inner_text(".facts")


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_a_container_shows_where_it_stands(visit: Any, server: Server) -> None:
    v = visit()
    v.login("administrator")
    v.go("/masterdata/containers/new")
    v.page.fill("#f-number", "C-0042")
    v.page.fill("#f-container_type", "afzetcontainer")
    v.page.fill("#f-volume_m3", "10,5")
    v.page.select_option("#f-location_kind", "site")
    v.page.select_option("#f-site_id", str(server.shop.site_a))
    v.shot("masterdata-container-new")
    v.page.click("#save")
    v.page.wait_for_selector("#item-title")
    assert "Op locatie: Bouwplaats Centrum" in v.page.inner_text(".facts")
    v.shot("masterdata-container-detail")
    v.go("/masterdata/containers?location_kind=site")
    row = v.page.locator("table#rows tbody tr", has_text="C-0042")
    assert "Op locatie: Bouwplaats Centrum" in row.inner_text() and "10,5 m³" in row.inner_text()
    v.shot("masterdata-containers")


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_every_list_and_form(visit: Any, server: Server) -> None:
    v = visit()
    v.login("administrator")
    for kind in KINDS:
        v.go(f"/masterdata/{kind.key}")
        v.page.wait_for_selector("#filters")
        v.shot(f"masterdata-{kind.key}-list")
        v.go(f"/masterdata/{kind.key}/new")
        v.page.wait_for_selector("form#masterdata-form")
        v.shot(f"masterdata-{kind.key}-new")
    v.go(f"/masterdata/sites?customer_id={server.shop.customer_a}")
    assert "Bouwplaats Centrum" in v.page.inner_text("table#rows")
    assert "Kwekerij" not in v.page.inner_text("table#rows")
    v.go("/masterdata/waste-streams")
    assert server.shop.waste_stream in v.page.inner_text("table#rows")
    v.page.click("table#rows tbody tr a")
    v.page.wait_for_selector("table#audit")
    v.shot("masterdata-waste-stream-detail")
    e = visit("en")
    e.login("administrator")
    e.go("/masterdata/customers?lang=en")
    assert "Customers" in e.page.inner_text("h1")
    e.shot("masterdata-customers-en")


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_a_planner_reads_but_does_not_write(visit: Any, server: Server) -> None:
    p = visit()
    p.login("planner")
    assert p.page.locator("header nav a[href='/masterdata']").count() == 1
    assert p.page.locator("header nav a[href='/masterdata/import']").count() == 0
    p.go("/masterdata/customers")
    assert "Bouwbedrijf De Vries" in p.page.inner_text("table#rows")
    assert p.page.locator("#new").count() == 0
    p.go(f"/masterdata/customers/{server.shop.customer_a}")
    assert p.page.locator("#edit").count() == 0
    assert p.page.locator("table#audit").count() == 1
    response = p.go("/masterdata/customers/new")
    assert response.status == 403
    assert "Geen toegang" in p.page.inner_text("main")
    p.shot("masterdata-forbidden")
    assert p.go("/masterdata/import").status == 403
    assert p.go(f"/masterdata/customers/{server.shop.customer_a}/edit").status == 403
    # A driver has no master data at all.
    d = visit()
    d.login("driver")
    assert d.page.locator("header nav a[href='/masterdata']").count() == 0
    assert d.go("/masterdata/customers").status == 403


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_lists_page_by_keyset_and_filter_by_active(visit: Any, server: Server) -> None:
    with server.factory() as s, s.begin():
        for i in range(30):
            create_article(
                s,
                tenant_id=server.shop.tenant_id,
                data=ArticleCreate(
                    code=f"P{i:03d}", name=f"Huur per dag {i}", unit="DAY", is_active=i != 7
                ),
                by_user_id=None,
            )
    v = visit()
    v.login("planner")
    v.go("/masterdata/articles?q=Huur")
    first = v.page.inner_text("table#rows tbody")
    assert v.page.locator("table#rows tbody tr").count() == 25
    v.page.click("a[rel=next]")
    v.page.wait_for_url("**after=**")
    assert v.page.locator("table#rows tbody tr").count() == 5
    assert v.page.locator("a[rel=next]").count() == 0
    v.shot("masterdata-articles-page-2")
    v.page.click("a[rel=prev]")
    v.page.wait_for_load_state()
    assert v.page.inner_text("table#rows tbody") == first
    v.go("/masterdata/articles?q=Huur&active=false")
    assert v.page.locator("table#rows tbody tr").count() == 1
    assert "P007" in v.page.inner_text("table#rows")
    assert v.go("/masterdata/articles?after=nonsense").status == 400
