"""Every screen in Chromium: log in and out, the order list (filters, paging), a new order
made by hand, an order's detail with history and audit, the language switch, the users
screen, and the customer portal (request an order; another customer's order is a 404)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.db import transaction
from cloud.tenancy.service import create_user
from tests.web.conftest import PASSWORD, TICKET_PDF, Server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_login_replaces_the_form_and_logout_revokes(visit: Any, server: Server) -> None:
    v = visit()
    v.go("/orders")  # not logged in: to the login page, and back after it
    assert "/login?next=" in v.page.url
    v.shot("login")
    v.page.fill("input[name=email]", server.shop.emails["planner"])
    v.page.fill("input[name=password]", "wrong-password")
    v.page.click("form#login button[type=submit]")
    v.page.wait_for_selector("#login-error")
    assert "Onjuist e-mailadres of wachtwoord" in v.page.inner_text("#login-error")
    v.shot("login-failed")
    v.page.fill("input[name=password]", PASSWORD)
    v.page.click("form#login button[type=submit]")
    v.page.wait_for_selector("table#orders")
    assert v.page.url.endswith("/orders")
    assert v.page.locator("form#login").count() == 0  # the form is gone
    cookie = next(c for c in v.context.cookies() if c["name"] == "oms_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    # The cookie holds an API token: it works on the API until logout revokes it.
    me = f"{server.url}/api/v1/me"
    auth = {"Authorization": f"Bearer {cookie['value']}"}
    assert httpx.get(me, headers=auth).status_code == 200
    v.page.click("#logout")
    v.page.wait_for_selector("form#login")
    assert "uitgelogd" in v.page.inner_text("main")
    assert httpx.get(me, headers=auth).status_code == 401
    v.go("/orders")
    assert "/login" in v.page.url


def test_order_list_filters_search_and_pages(visit: Any, server: Server) -> None:
    v = visit()
    v.login("planner")
    rows = v.page.locator("table#orders tbody tr")
    assert rows.count() == 25
    first_page = v.page.inner_text("table#orders tbody")
    assert "1.234,5 kg" not in first_page  # not weighed yet: no weight invented
    assert "01-12-2026" in first_page or "02-12-2026" in first_page  # Dutch dates
    v.shot("orders-list")
    v.page.click("a[rel=next]")
    v.page.wait_for_url("**after=**")
    assert v.page.locator("table#orders tbody tr").count() == 5
    assert v.page.locator("a[rel=next]").count() == 0
    v.shot("orders-list-page-2")
    v.page.click("a[rel=prev]")
    v.page.wait_for_load_state()
    assert v.page.inner_text("table#orders tbody") == first_page
    # Filters: customer B's orders of one type; search by reference.
    v.page.select_option("#f-customer_id", str(server.shop.customer_b))
    v.page.select_option("#f-order_type", "container_place")
    v.page.click("#filters button[type=submit]")
    v.page.wait_for_url("**customer_id=**")
    text = v.page.inner_text("table#orders tbody")
    assert "Hovenier Jansen" in text and "Bouwbedrijf De Vries" not in text
    assert "Container wisselen" not in text
    v.shot("orders-list-filtered")
    v.go("/orders?q=REF-007")
    assert v.page.locator("table#orders tbody tr").count() == 1
    v.go("/orders?status=cancelled")
    assert "Geen orders gevonden" in v.page.inner_text("main")


def test_create_an_order_by_hand_then_edit_and_cancel(visit: Any, server: Server) -> None:
    shop = server.shop
    v = visit()
    v.login("planner")
    v.page.click("#new-order")
    v.page.wait_for_selector("form#order-form")
    # htmx fills the sites of the chosen customer and the afvalstroomnummers that fit.
    v.page.select_option("#f-customer_id", str(shop.customer_a))
    v.page.wait_for_selector(f"#f-site_id option[value='{shop.site_a}']", state="attached")
    assert v.page.locator(f"#f-site_id option[value='{shop.site_b}']").count() == 0
    v.page.select_option("#f-order_type", "container_place")
    v.page.select_option("#f-site_id", str(shop.site_a))
    v.page.fill("#f-requested_date", "2026-12-14")
    v.page.fill("#f-window_from", "08:00")
    v.page.fill("#f-window_to", "07:00")  # inverted: refused, with the form kept
    v.page.select_option("#f-material_id", str(shop.material))
    v.page.wait_for_selector("#f-waste_stream_id option:has-text('123450000001')", state="attached")
    v.page.select_option("#f-waste_stream_id", label=shop.waste_stream)
    v.page.fill("#f-expected_quantity_kg", "2.500,5")
    v.page.fill("#f-reference", "PO-4711")
    v.shot("order-new")
    v.page.click("#save")
    v.page.wait_for_selector(".errors")
    assert v.page.input_value("#f-reference") == "PO-4711"
    v.shot("order-new-error")
    v.page.fill("#f-window_to", "12:00")
    v.page.click("#save")
    v.page.wait_for_selector("#order-number")
    assert "De order is aangemaakt" in v.page.inner_text(".flash")
    facts = v.page.inner_text(".facts")
    assert "Bouwbedrijf De Vries" in facts and "Bouwplaats Centrum" in facts
    assert "2.500,5 kg" in facts and "14-12-2026" in facts and "08:00–12:00" in facts
    assert "Aangemaakt" in v.page.inner_text("#history")
    # Edit: the change shows in the audit with old and new value.
    v.page.click("#edit")
    v.page.wait_for_selector("form#order-form")
    assert v.page.input_value("#f-expected_quantity_kg") == "2.500,5"
    assert v.page.input_value("#f-window_from") == "08:00"
    v.page.fill("#f-reference", "PO-4712")
    v.shot("order-edit")
    v.page.click("#save")
    v.page.wait_for_selector(".flash")
    audit = v.page.inner_text("#audit")
    assert "PO-4711" in audit and "PO-4712" in audit
    # Cancel with a reason.
    v.page.on("dialog", lambda d: d.accept())
    v.page.click("#cancel summary")
    v.page.fill("#cancel input[name=reason]", "klant belde af")
    v.page.click("#cancel button[type=submit]")
    v.page.wait_for_selector(".status.cancelled")
    assert "klant belde af" in v.page.inner_text("#history")
    v.shot("order-detail")


def test_language_switch(visit: Any) -> None:
    v = visit()
    v.login("planner")
    assert "Nieuwe order" in v.page.inner_text("header")
    v.page.click("a[data-lang=en]")
    v.page.wait_for_selector("header a:has-text('New order')")
    assert "Requested date" in (v.page.text_content("table#orders thead") or "")
    text = v.page.inner_text("table#orders tbody")
    assert "2026-12-0" in text  # ISO dates in English
    v.shot("orders-list-en")
    v.go("/orders/new")  # the choice is kept in a cookie
    assert "Create order" in v.page.inner_text("main")
    v.page.click("a[data-lang=nl]")
    v.page.wait_for_selector("#save:has-text('Order aanmaken')")


def test_users_screen_for_the_owner(visit: Any, server: Server) -> None:
    v = visit()
    v.login("owner")
    v.go("/users")
    assert "planner@acme.example" in v.page.inner_text("table#users")
    v.page.fill("#add-user input[name=email]", "nieuw@acme.example")
    v.page.fill("#add-user input[name=name]", "Nieuwe Planner")
    v.page.check("#add-user input[name=roles][value=planner]")
    v.page.click("#add-user button[type=submit]")
    v.page.wait_for_selector("#new-password")
    password = v.page.inner_text("#new-password").strip()
    assert len(password) >= 12
    v.shot("users")
    # The new user logs in with it, elsewhere.
    token = httpx.post(
        f"{server.url}/api/v1/auth/token",
        json={"email": "nieuw@acme.example", "password": password},
    )
    assert token.status_code == 200
    v.page.on("dialog", lambda d: d.accept())
    row = v.page.locator("tr[data-email='nieuw@acme.example']")
    row.locator("button[data-act=reset]").click()
    v.page.wait_for_selector("#new-password")
    assert v.page.inner_text("#new-password").strip() != password
    row = v.page.locator("tr[data-email='nieuw@acme.example']")
    row.locator("button[data-act=disable]").click()
    v.page.wait_for_selector(".flash")
    assert "Uitgeschakeld" in v.page.locator("tr[data-email='nieuw@acme.example']").inner_text()
    # A planner has no users screen, and no menu entry for it.
    p = visit()
    p.login("planner")
    assert p.page.locator("header nav a[href='/users']").count() == 0
    response = p.go("/users")
    assert response.status == 403
    assert "Geen toegang" in p.page.inner_text("main")
    p.shot("forbidden")


def test_customer_requests_an_order_and_cannot_open_another_customers(
    visit: Any, server: Server
) -> None:
    shop = server.shop
    v = visit()
    v.login("customer_a")
    assert v.page.url.endswith("/portal")
    assert [a.inner_text() for a in v.page.locator("header nav a").all()] == ["Mijn orders"]
    assert "Hovenier Jansen" not in v.page.content()
    v.shot("portal-orders")
    v.page.click("#request-order")
    v.page.wait_for_selector("form#portal-request")
    assert v.page.locator(f"#f-site_id option[value='{shop.site_b}']").count() == 0
    v.page.select_option("#f-site_id", str(shop.site_a))
    v.page.select_option("#f-order_type", "container_collect")
    v.page.fill("#f-requested_date", "2026-12-20")
    v.page.fill("#f-notes", "Container staat achter het hek")
    v.shot("portal-request")
    v.page.click("form#portal-request button[type=submit]")
    v.page.wait_for_selector("#order-number")
    assert "Je aanvraag is ontvangen" in v.page.inner_text(".flash")
    assert "Container ophalen" in v.page.inner_text(".facts")
    v.shot("portal-order")
    # Its documents: the weighing ticket of an executed order downloads.
    v.go(f"/portal/orders/{shop.order_a}")
    assert "Weegbon" in v.page.inner_text("#documents")
    with v.page.expect_download() as download:
        v.page.click("#documents a")
    assert download.value.suggested_filename == "weegbon 2026-000029.pdf"
    assert Path(download.value.path()).read_bytes() == TICKET_PDF
    v.shot("portal-order-documents")
    # Another customer's order: the same 404 page as an order that does not exist.
    response = v.go(f"/portal/orders/{shop.order_b}")
    assert response.status == 404
    assert "Niet gevonden" in v.page.inner_text("main")
    v.shot("portal-not-found")
    assert v.go("/portal/orders/999999").status == 404
    # and no office screens
    assert v.go("/orders/new").status == 403


def test_a_user_changes_its_own_password(visit: Any, server: Server) -> None:
    """Everyone can change their own password under /account (name in the header); the
    current one is asked, other sessions end, this one stays."""
    with transaction(server.factory) as s:
        create_user(
            s,
            tenant_id=server.shop.tenant_id,
            email="wachtwoord@acme.example",
            name="Wim Wachtwoord",
            password=PASSWORD,
            roles=["planner"],
        )
    other = httpx.post(
        f"{server.url}/api/v1/auth/token",
        json={"email": "wachtwoord@acme.example", "password": PASSWORD},
    ).json()["access_token"]
    v = visit()
    v.go("/login")
    v.page.fill("input[name=email]", "wachtwoord@acme.example")
    v.page.fill("input[name=password]", PASSWORD)
    v.page.click("form#login button[type=submit]")
    v.page.wait_for_selector("table#orders")
    v.page.click("#who")
    v.page.wait_for_selector("form#password-form")
    v.page.fill("input[name=current_password]", "not-my-password")
    v.page.fill("input[name=new_password]", "een-nieuw-wachtwoord")
    v.page.fill("input[name=repeat_password]", "een-nieuw-wachtwoord")
    v.page.click("form#password-form button[type=submit]")
    v.page.wait_for_selector("#password-error")
    assert "klopt niet" in v.page.inner_text("#password-error")
    v.shot("account-error")
    v.page.fill("input[name=current_password]", PASSWORD)
    v.page.fill("input[name=new_password]", "een-nieuw-wachtwoord")
    v.page.fill("input[name=repeat_password]", "een-nieuw-wachtwoord")
    v.page.click("form#password-form button[type=submit]")
    v.page.wait_for_selector("p.flash")
    assert "gewijzigd" in v.page.inner_text("p.flash")
    v.shot("account")
    me = f"{server.url}/api/v1/me"
    assert httpx.get(me, headers={"Authorization": f"Bearer {other}"}).status_code == 401
    v.go("/orders")  # this session stays
    assert v.page.locator("table#orders").count() == 1
    login = f"{server.url}/api/v1/auth/token"
    new = {"email": "wachtwoord@acme.example", "password": "een-nieuw-wachtwoord"}
    assert httpx.post(login, json=new).status_code == 200
    old = {"email": "wachtwoord@acme.example", "password": PASSWORD}
    assert httpx.post(login, json=old).status_code == 401
