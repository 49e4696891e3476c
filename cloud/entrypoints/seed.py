"""Demo data: a container and recycling company in Zwolle with its weighbridge and trucks, three
customers with their billing details and sites, a processor, materials with Eural codes and
afvalstroomnummers, containers, articles, a weekly schedule, a webhook secret, and the logins
the demo prints (office, customer portal, driver).

Everything goes through the domain services, so the demo data passes the same checks (and
leaves the same audit trail) as data typed in by an office."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from cloud.articles.schemas import ArticleCreate
from cloud.articles.service import create_article
from cloud.containers.schemas import ContainerCreate
from cloud.containers.service import create_container
from cloud.customers.models import Customer, Site
from cloud.customers.schemas import CustomerCreate, SiteCreate
from cloud.customers.service import NUMBER_PURPOSE, add_customer, add_site, cash_customer
from cloud.devices.service import create_device
from cloud.fleet.schemas import DriverCreate, VehicleCreate
from cloud.fleet.service import create_driver, create_vehicle
from cloud.intake.service import ensure_secret
from cloud.materials.models import Material
from cloud.materials.schemas import MaterialCreate, WasteStreamCreate
from cloud.materials.service import create_material, create_waste_stream
from cloud.numbering.service import ensure_series
from cloud.schedules.schemas import ScheduleCreate
from cloud.schedules.service import create_schedule
from cloud.tenancy.service import create_tenant, create_user

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@oms.example"
DEMO_PASSWORD = "demo-weegbrug"  # noqa: S105 - printed by `oms demo`; a demo login, nothing else
PORTAL_EMAIL = "portaal@devries.example"
PORTAL_PASSWORD = "demo-portaal"  # noqa: S105 - printed by `oms demo`
DRIVER_EMAIL = "chauffeur@oms.example"
DRIVER_PASSWORD = "demo-chauffeur"  # noqa: S105 - printed by `oms demo`
DEMO_DEVICE = "wb-demo-1"
TRUCK_DEVICE = "truck-demo-1"
TRUCK_PLATE = "72-BXL-4"
KNOWN_CARD = "000414CD7E"
"""The card the simulated truck (a customer's tipper) shows at the weighbridge."""


@dataclass(frozen=True)
class DemoLogin:
    """What `oms demo` prints and what its smoke run needs to make an order per channel."""

    email: str
    password: str
    tenant_id: int
    device_id: str
    tenant_slug: str = DEMO_SLUG
    portal_email: str = PORTAL_EMAIL
    portal_password: str = PORTAL_PASSWORD
    driver_email: str = DRIVER_EMAIL
    driver_password: str = DRIVER_PASSWORD
    truck_device_id: str = TRUCK_DEVICE
    webhook_secret: str = ""
    customer_id: int = 0
    """Bouwbedrijf De Vries: the portal user's customer, and the manual order's."""
    customer_number: str = ""
    site_id: int = 0
    """De Vries' site in Zwolle (portal and manual orders)."""
    site_postal_code: str = ""
    material_id: int = 0
    """170904 bouw- en sloopafval."""
    waste_stream_id: int = 0
    """De Vries' afvalstroomnummer for 170904."""
    container_id: int = 0
    """A container standing at De Vries' site."""


def _site(session: Session, tenant_id: int, **fields: object) -> Site:
    return add_site(session, tenant_id=tenant_id, data=SiteCreate.model_validate(fields))


def _customer(session: Session, tenant_id: int, by_user_id: int, **fields: object) -> Customer:
    data = CustomerCreate.model_validate(fields)
    return add_customer(session, tenant_id=tenant_id, data=data, by_user_id=by_user_id)


def _material(
    session: Session, tenant_id: int, code: str, description: str, eural: str, article_id: int
) -> Material:
    data = MaterialCreate(
        code=code, description=description, eural_code=eural, article_id=article_id
    )
    return create_material(session, tenant_id=tenant_id, data=data, by_user_id=None)


def seed_demo(session: Session, *, today: date | None = None) -> DemoLogin:
    today = today or date.today()
    tenant = create_tenant(
        session,
        slug=DEMO_SLUG,
        name="Demo Containers & Recycling B.V.",
        kvk="12345678",
        vat_id="NL001234567B01",
        street="Havenweg 1",
        postal_code="8011 AA",
        city="Zwolle",
        iban="NL91ABNA0417164300",
        vihb_number="123456VIHB",
    )
    t = tenant.id
    office = create_user(
        session,
        tenant_id=t,
        email=DEMO_EMAIL,
        name="Demo Planner",
        password=DEMO_PASSWORD,
        roles=["owner", "planner", "administrator"],
    )
    by = office.id

    # -- customers, with their billing details ----------------------------------------------
    # Customer numbers 1xxxx from the tenant's series: these three take 10001-10003, a customer
    # made later (by the webshop, or typed in without a number) the next one.
    ensure_series(session, tenant_id=t, purpose=NUMBER_PURPOSE, prefix="1", width=4)
    devries = _customer(
        session,
        t,
        by,
        name="Bouwbedrijf De Vries B.V.",
        vat_id="NL009876543B01",
        kvk="87654321",
        email="info@devries.example",
        invoice_email="facturen@devries.example",
        phone="+31 38 421 0000",
        street="Werkeiland 4",
        postal_code="8043 AA",
        city="Zwolle",
        payment_terms_days=30,
        invoice_grouping="per_site",
        einvoice_format="si_ubl",
    )
    jansen = _customer(
        session,
        t,
        by,
        name="Sloopwerken Jansen Deventer B.V.",
        vat_id="NL812345678B01",
        kvk="23456789",
        email="planning@jansensloop.example",
        invoice_email="crediteuren@jansensloop.example",
        street="Zutphenseweg 120",
        postal_code="7418 AJ",
        city="Deventer",
        payment_terms_days=14,
        invoice_grouping="per_period",
        einvoice_format="peppol_bis",
        peppol_id="0106:23456789",
    )
    groen = _customer(
        session,
        t,
        by,
        name="Hoveniersbedrijf Groen & Zn.",
        vat_id="NL723456789B02",
        kvk="34567890",
        email="info@groenkampen.example",
        invoice_email="administratie@groenkampen.example",
        street="Oudestraat 150",
        postal_code="8261 CW",
        city="Kampen",
        payment_terms_days=30,
        einvoice_format="pdf",
    )
    cash_customer(session, tenant_id=t)  # what a driver's order for an unknown customer uses

    # -- sites: the customers', our own yard, a processor -----------------------------------
    yard = _site(
        session, t, name="Eigen terrein Zwolle (weegbrug)", kind="own_yard",
        street="Havenweg 1", postal_code="8011 AA", city="Zwolle",
        lat="52.5184000", lon="6.0826000", access_notes="Weegbrug rechts van de poort",
    )  # fmt: skip
    devries_site = _site(
        session, t, name="Bouwplaats Stationsplein", customer_id=devries.id,
        street="Stationsplein 10", postal_code="8011 CW", city="Zwolle",
        lat="52.5046000", lon="6.0913000", access_notes="Inrit via de Van Karnebeekstraat",
    )  # fmt: skip
    _site(
        session, t, name="Nieuwbouw Stadshagen", customer_id=devries.id,
        street="Werkeiland 4", postal_code="8043 AA", city="Zwolle",
        lat="52.5310000", lon="6.0480000",
    )  # fmt: skip
    jansen_site = _site(
        session, t, name="Sloop kantoorpand Brinkgreven", customer_id=jansen.id,
        street="Brinkgreverweg 69", postal_code="7413 AB", city="Deventer",
        lat="52.2560000", lon="6.1790000", access_notes="Melden bij de uitvoerder",
    )  # fmt: skip
    groen_site = _site(
        session, t, name="Werf Groen", customer_id=groen.id,
        street="Oudestraat 150", postal_code="8261 CW", city="Kampen",
        lat="52.5535000", lon="5.9120000",
    )  # fmt: skip
    processor = _site(
        session, t, name="Recyclingcentrum Twente (verwerker)", kind="processor",
        street="Marssteden 50", postal_code="7547 TC", city="Enschede",
        lat="52.2290000", lon="6.8160000", processor_number="54321",
    )  # fmt: skip

    # -- articles and materials --------------------------------------------------------------
    def article(code: str, name: str, unit: str, price: str, ledger: str) -> int:
        data = ArticleCreate.model_validate(
            {"code": code, "name": name, "unit": unit, "vat_category": "S",
             "ledger_code": ledger, "default_price": Decimal(price)}
        )  # fmt: skip
        return create_article(session, tenant_id=t, data=data, by_user_id=by).id

    article("TRANSPORT", "Transport plaatsen/wisselen/ophalen", "C62", "95.00", "8000")
    article("HUUR-DAG", "Containerhuur per dag", "DAY", "4.50", "8010")
    bsa_art = article("BSA-TON", "Verwerking bouw- en sloopafval", "TNE", "128.00", "8100")
    beton_art = article("BETON-TON", "Verwerking schoon beton", "TNE", "14.50", "8110")
    rest_art = article("REST-TON", "Verwerking restafval", "TNE", "165.00", "8120")
    grond_art = article("GROND-TON", "Verwerking verontreinigde grond", "TNE", "55.00", "8130")

    bsa = _material(session, t, "170904", "Bouw- en sloopafval (gemengd)", "170904", bsa_art)
    beton = _material(session, t, "170101", "Beton", "170101", beton_art)
    rest = _material(session, t, "200301", "Restafval (gemengd stedelijk afval)", "200301",
                     rest_art)  # fmt: skip
    grond = _material(session, t, "170503", "Verontreinigde grond", "170503*", grond_art)

    # -- afvalstroomnummers per customer, processor and material -----------------------------
    since = today - timedelta(days=365)

    def stream(number: str, customer: Customer, material: Material) -> int:
        data = WasteStreamCreate(
            number=number,
            customer_id=customer.id,
            processor_site_id=processor.id,
            material_id=material.id,
            valid_from=since,
        )
        return create_waste_stream(session, tenant_id=t, data=data, by_user_id=by).id

    devries_bsa = stream("543210000101", devries, bsa)
    stream("543210000102", devries, beton)
    stream("543210000201", jansen, beton)
    stream("543210000202", jansen, grond)
    stream("543210000301", groen, rest)

    # -- people: the portal user of De Vries, a driver ---------------------------------------
    create_user(
        session,
        tenant_id=t,
        email=PORTAL_EMAIL,
        name="Marieke de Vries",
        password=PORTAL_PASSWORD,
        roles=["customer"],
        customer_id=devries.id,
        by_user_id=by,
    )
    driver_user = create_user(
        session,
        tenant_id=t,
        email=DRIVER_EMAIL,
        name="Henk Bosman",
        password=DRIVER_PASSWORD,
        roles=["driver"],
        by_user_id=by,
    )
    create_driver(
        session,
        tenant_id=t,
        data=DriverCreate(
            user_id=driver_user.id,
            name="Henk Bosman",
            phone="+31 6 12345678",
            licence_categories=["C", "CE"],
            licence_valid_until=today + timedelta(days=3 * 365),
            adr=True,
            adr_valid_until=today + timedelta(days=2 * 365),
        ),
        by_user_id=by,
    )

    # -- vehicles: our trucks, and the customer's tipper that the simulator weighs -----------
    hooklift = create_vehicle(
        session,
        tenant_id=t,
        by_user_id=by,
        data=VehicleCreate.model_validate(
            {
                "plate": TRUCK_PLATE,
                "kind": "truck",
                "vehicle_type": "haakarm",
                "allowed_container_types": [
                    "afzetcontainer 10m3", "afzetcontainer 20m3", "afzetcontainer 30m3",
                ],
                "max_load_kg": Decimal("18000"),
                "stored_tare_kg": Decimal("14350"),
                "stored_tare_valid_until": today + timedelta(days=180),
                "licence_category": "CE",
                "driver_user_id": driver_user.id,
            }
        ),
    )  # fmt: skip
    create_vehicle(
        session,
        tenant_id=t,
        by_user_id=by,
        data=VehicleCreate.model_validate(
            {
                "plate": "18-VTR-3",
                "kind": "truck",
                "vehicle_type": "portaal",
                "allowed_container_types": ["portaalbak 6m3", "portaalbak 10m3"],
                "max_load_kg": Decimal("10000"),
                "licence_category": "C",
            }
        ),
    )
    create_vehicle(
        session,
        tenant_id=t,
        plate="BX-123-Z",
        kind="kipper",
        customer_id=devries.id,
        rfid_card=KNOWN_CARD,
        by_user_id=by,
    )

    # -- containers: some out at customers, some at the yard ---------------------------------
    def container(number: str, kind: str, m3: str, where: Site, tag: str) -> int:
        data = ContainerCreate.model_validate(
            {
                "number": number,
                "container_type": kind,
                "volume_m3": Decimal(m3),
                "rfid_tag": tag,
                "location_kind": "yard" if where.kind == "own_yard" else "site",
                "site_id": where.id,
            }
        )
        return create_container(session, tenant_id=t, data=data, by_user_id=by).id

    at_devries = container("C-1001", "afzetcontainer 10m3", "10", devries_site, "E2001001")
    container("C-1002", "afzetcontainer 30m3", "30", jansen_site, "E2001002")
    container("C-1003", "afzetcontainer 20m3", "20", jansen_site, "E2001003")
    container("C-1004", "afzetcontainer 10m3", "10", yard, "E2001004")
    container("C-1005", "afzetcontainer 20m3", "20", yard, "E2001005")
    groen_bak = container("P-2001", "portaalbak 6m3", "6", groen_site, "E2002001")
    container("P-2002", "portaalbak 6m3", "6", yard, "E2002002")

    # -- a weekly schedule: Groen's residual waste, emptied every Tuesday --------------------
    create_schedule(
        session,
        tenant_id=t,
        by_user_id=by,
        data=ScheduleCreate.model_validate(
            {
                "customer_id": groen.id,
                "site_id": groen_site.id,
                "order_type": "container_exchange",
                "material_id": rest.id,
                "container_id": groen_bak,
                "container_type": "portaalbak 6m3",
                "weekdays": [2],
                "every_n_weeks": 1,
                "start_date": today,
                "days_ahead": 14,
                "reference": "Weeklediging restafval",
            }
        ),
    )

    # -- devices: the weighbridge terminal and the hook-lift truck's agent -------------------
    create_device(
        session, tenant_id=t, device_id=DEMO_DEVICE, kind="weighbridge", name="Weegbrug 1",
        site_id=yard.id,
    )  # fmt: skip
    create_device(
        session, tenant_id=t, device_id=TRUCK_DEVICE, kind="truck", name=f"Haakarm {TRUCK_PLATE}",
        vehicle_id=hooklift.id,
    )  # fmt: skip
    secret = ensure_secret(session, tenant_id=t)
    return DemoLogin(
        DEMO_EMAIL,
        DEMO_PASSWORD,
        t,
        DEMO_DEVICE,
        webhook_secret=secret,
        customer_id=devries.id,
        customer_number=devries.number,
        site_id=devries_site.id,
        site_postal_code=devries_site.postal_code or "",
        material_id=bsa.id,
        waste_stream_id=devries_bsa,
        container_id=at_devries,
    )
