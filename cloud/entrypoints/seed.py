"""Demo data: a company with a weighbridge, a customer whose truck has an RFID card, a user."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from cloud.customers.models import Site
from cloud.customers.service import create_customer
from cloud.devices.service import create_device
from cloud.fleet.service import create_vehicle
from cloud.tenancy.service import create_tenant, create_user

DEMO_EMAIL = "demo@oms.example"
DEMO_PASSWORD = "demo-weegbrug"  # noqa: S105 - printed by `oms demo`; a demo login, nothing else
DEMO_DEVICE = "wb-demo-1"
KNOWN_CARD = "000414CD7E"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    tenant_id: int
    device_id: str


def seed_demo(session: Session) -> DemoLogin:
    tenant = create_tenant(
        session,
        slug="demo",
        name="Demo Containers & Recycling B.V.",
        kvk="12345678",
        vat_id="NL001234567B01",
        street="Havenweg 1",
        postal_code="8011 AA",
        city="Zwolle",
        iban="NL91ABNA0417164300",
        vihb_number="123456VIHB",
    )
    create_user(
        session,
        tenant_id=tenant.id,
        email=DEMO_EMAIL,
        name="Demo Planner",
        password=DEMO_PASSWORD,
        roles=["owner", "planner", "administrator"],
    )
    customer = create_customer(
        session,
        tenant_id=tenant.id,
        number="10001",
        name="Bouwbedrijf De Vries B.V.",
        vat_id="NL009876543B01",
        kvk="87654321",
        invoice_email="facturen@devries.example",
        street="Werkeiland 4",
        postal_code="8043 AA",
        city="Zwolle",
    )
    yard = Site(
        tenant_id=tenant.id,
        name="Eigen terrein Zwolle (weegbrug)",
        kind="own_yard",
        street="Havenweg 1",
        postal_code="8011 AA",
        city="Zwolle",
    )
    session.add(yard)
    session.flush()
    create_vehicle(
        session,
        tenant_id=tenant.id,
        plate="BX-123-Z",
        kind="kipper",
        customer_id=customer.id,
        rfid_card=KNOWN_CARD,
    )
    create_device(
        session,
        tenant_id=tenant.id,
        device_id=DEMO_DEVICE,
        kind="weighbridge",
        name="Weegbrug 1",
        site_id=yard.id,
    )
    return DemoLogin(DEMO_EMAIL, DEMO_PASSWORD, tenant.id, DEMO_DEVICE)
