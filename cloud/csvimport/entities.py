"""The importable entities: one ``EntitySpec`` each, in one registry."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cloud.articles import service as articles
from cloud.articles.schemas import ArticleCreate
from cloud.containers import service as containers
from cloud.containers.schemas import ContainerCreate
from cloud.csvimport import repository as keys
from cloud.csvimport.rowwise import through_service
from cloud.csvimport.spec import EntitySpec, Reference, Unique, ValidRow, WriteContext
from cloud.customers import repository as customers_repo
from cloud.customers import service as customers
from cloud.customers.schemas import CustomerCreate, SiteCreate
from cloud.fleet import service as fleet
from cloud.fleet.schemas import DriverCreate, VehicleCreate
from cloud.materials import service as materials
from cloud.materials.schemas import MaterialCreate, WasteStreamCreate
from protocols.normalize import plate_key

ADDRESS_ALIASES = {
    "straat": "street",
    "adres": "street",
    "postcode": "postal_code",
    "plaats": "city",
    "woonplaats": "city",
    "stad": "city",
    "land": "country",
    "actief": "is_active",
    "naam": "name",
    "opmerkingen": "notes",
    "notities": "notes",
}


def _customer_numbers(session: Session, tenant_id: int) -> dict[str, int]:
    return customers_repo.customer_ids_by_number(session, tenant_id=tenant_id)


def _write_customers(session: Session, ctx: WriteContext, rows: Sequence[ValidRow]) -> None:
    customers.add_customers(
        session,
        tenant_id=ctx.tenant_id,
        rows=[r.data for r in rows],
        by_user_id=ctx.by_user_id,
        reason=ctx.reason,
    )


def _write_sites(session: Session, ctx: WriteContext, rows: Sequence[ValidRow]) -> None:
    customers.add_sites(
        session,
        tenant_id=ctx.tenant_id,
        rows=[r.data for r in rows],
        by_user_id=ctx.by_user_id,
        reason=ctx.reason,
    )


CUSTOMER_REF = Reference(
    column="customer_number",
    field="customer_id",
    load=_customer_numbers,
    what="customer with number",
)

CUSTOMERS = EntitySpec(
    name="customers",
    schema=CustomerCreate,
    write=_write_customers,
    aliases={
        **ADDRESS_ALIASES,
        "nummer": "number",
        "klantnummer": "number",
        "debiteurnummer": "number",
        "customer_number": "number",
        "klantnaam": "name",
        "btw_nummer": "vat_id",
        "btw_id": "vat_id",
        "btw": "vat_id",
        "vat": "vat_id",
        "kvk_nummer": "kvk",
        "e_mail": "email",
        "contact_email": "email",
        "factuur_e_mail": "invoice_email",
        "factuur_email": "invoice_email",
        "telefoon": "phone",
        "betalingstermijn": "payment_terms_days",
        "betaaltermijn": "payment_terms_days",
        "payment_terms": "payment_terms_days",
        "factuurgroepering": "invoice_grouping",
        "e_factuur": "einvoice_format",
        "e_factuur_formaat": "einvoice_format",
        "peppol": "peppol_id",
        "peppol_id": "peppol_id",
        "controleren": "needs_review",
    },
    unique=(
        Unique(
            field="number",
            existing=lambda s, t: customers_repo.customer_numbers(s, tenant_id=t),
            what="customer number",
        ),
    ),
    example=(
        "number;name;street;postal_code;city;vat_id;kvk;invoice_email;payment_terms_days\n"
        "10001;Bouwbedrijf De Vries B.V.;Werkeiland 4;8043AA;Zwolle;NL009876543B01;87654321;"
        "facturen@devries.example;30\n"
    ),
)

SITES = EntitySpec(
    name="sites",
    schema=SiteCreate,
    write=_write_sites,
    references=(CUSTOMER_REF,),
    aliases={
        **ADDRESS_ALIASES,
        "locatie": "name",
        "soort": "kind",
        "type": "kind",
        "klantnummer": "customer_number",
        "klant": "customer_number",
        "breedtegraad": "lat",
        "latitude": "lat",
        "lengtegraad": "lon",
        "longitude": "lon",
        "toegang": "access_notes",
        "toegangsinstructies": "access_notes",
        "verwerkersnummer": "processor_number",
        "opmerkingen": "access_notes",
        "notities": "access_notes",
    },
    unique=(
        Unique(
            field="processor_number",
            existing=lambda s, t: customers_repo.processor_numbers(s, tenant_id=t).keys(),
            what="processor number",
        ),
    ),
    example=(
        "name;kind;customer_number;street;postal_code;city;lat;lon;access_notes;processor_number\n"
        "Bouwplaats Stadshagen;customer_site;10001;Werkeiland 4;8043 AA;Zwolle;52,5302;6,0563;"
        "Poort code 1234;\n"
        "Verwerker Zwolle;processor;;Voltastraat 10;8013PM;Zwolle;;;;80123\n"
    ),
)

VEHICLES = EntitySpec(
    name="vehicles",
    schema=VehicleCreate,
    checks_on_write=True,
    write=through_service(fleet.create_vehicle, entity=fleet.VEHICLE),
    references=(
        CUSTOMER_REF,
        Reference(
            column="driver_email",
            field="driver_user_id",
            load=lambda s, t: keys.user_ids_by_email(s, tenant_id=t),
            what="user with e-mail",
            key=str.lower,
        ),
    ),
    unique=(
        Unique(
            field="plate",
            existing=lambda s, t: keys.vehicle_ids_by_plate_key(s, tenant_id=t).keys(),
            what="plate",
            key=plate_key,
        ),
        Unique(
            field="rfid_card",
            existing=lambda s, t: keys.vehicle_cards(s, tenant_id=t),
            what="RFID card",
        ),
    ),
    aliases={
        "kenteken": "plate",
        "soort": "kind",
        "voertuigtype": "vehicle_type",
        "type": "vehicle_type",
        "containertypes": "allowed_container_types",
        "laadvermogen": "max_load_kg",
        "max_lading": "max_load_kg",
        "max_load": "max_load_kg",
        "tarra": "stored_tare_kg",
        "tarra_kg": "stored_tare_kg",
        "tarra_geldig_tot": "stored_tare_valid_until",
        "rijbewijs": "licence_category",
        "rfid": "rfid_card",
        "pas": "rfid_card",
        "klantnummer": "customer_number",
        "chauffeur": "driver_email",
        "chauffeur_e_mail": "driver_email",
        "actief": "is_active",
    },
    example=(
        "plate;kind;vehicle_type;allowed_container_types;max_load_kg;stored_tare_kg;"
        "stored_tare_valid_until;licence_category;rfid_card\n"
        "BX-123-Z;truck;haakarm;afzetcontainer|rolcontainer;18000;14220,5;31-12-2027;C;"
        "000414CD7E\n"
    ),
)

DRIVERS = EntitySpec(
    name="drivers",
    schema=DriverCreate,
    checks_on_write=True,
    write=through_service(fleet.create_driver, entity=fleet.DRIVER),
    references=(
        Reference(
            column="user_email",
            field="user_id",
            load=lambda s, t: keys.user_ids_by_email(s, tenant_id=t),
            what="user with e-mail",
            key=str.lower,
        ),
    ),
    unique=(
        Unique(
            field="user_id",
            existing=lambda s, t: keys.driver_user_ids(s, tenant_id=t),
            what="driver for user",
        ),
    ),
    aliases={
        "naam": "name",
        "email": "user_email",
        "e_mail": "user_email",
        "gebruiker": "user_email",
        "telefoon": "phone",
        "rijbewijs": "licence_categories",
        "rijbewijzen": "licence_categories",
        "rijbewijs_geldig_tot": "licence_valid_until",
        "adr_geldig_tot": "adr_valid_until",
        "actief": "is_active",
    },
    example=(
        "name;user_email;phone;licence_categories;licence_valid_until;adr;adr_valid_until\n"
        "Jan de Vries;jan@example.com;06 12345678;C|CE;01-06-2030;ja;01-06-2027\n"
    ),
)

CONTAINERS = EntitySpec(
    name="containers",
    schema=ContainerCreate,
    checks_on_write=True,
    write=through_service(containers.create_container, entity=containers.CONTAINER),
    references=(
        Reference(
            column="vehicle_plate",
            field="vehicle_id",
            load=lambda s, t: keys.vehicle_ids_by_plate_key(s, tenant_id=t),
            what="vehicle with plate",
            key=plate_key,
        ),
    ),
    unique=(
        Unique(
            field="number",
            existing=lambda s, t: keys.container_numbers(s, tenant_id=t),
            what="container number",
        ),
        Unique(
            field="rfid_tag",
            existing=lambda s, t: keys.container_tags(s, tenant_id=t),
            what="RFID tag",
        ),
    ),
    aliases={
        "nummer": "number",
        "containernummer": "number",
        "type": "container_type",
        "containertype": "container_type",
        "inhoud": "volume_m3",
        "volume": "volume_m3",
        "inhoud_m3": "volume_m3",
        "rfid": "rfid_tag",
        "tag": "rfid_tag",
        "locatie": "location_kind",
        "kenteken": "vehicle_plate",
        "actief": "is_active",
    },
    example="number;container_type;volume_m3;rfid_tag;location_kind\nC-0001;afzetcontainer;10;E200341201;yard\n",
)

MATERIALS = EntitySpec(
    name="materials",
    schema=MaterialCreate,
    checks_on_write=True,
    write=through_service(materials.create_material, entity=materials.MATERIAL),
    references=(
        Reference(
            column="article_code",
            field="article_id",
            load=lambda s, t: keys.article_ids_by_code(s, tenant_id=t),
            what="article with code",
        ),
    ),
    unique=(
        Unique(
            field="code",
            existing=lambda s, t: keys.material_ids_by_code(s, tenant_id=t).keys(),
            what="material code",
        ),
    ),
    aliases={
        "materiaalcode": "code",
        "omschrijving": "description",
        "eural": "eural_code",
        "euralcode": "eural_code",
        "artikel": "article_code",
        "artikelcode": "article_code",
        "actief": "is_active",
    },
    example="code;description;eural_code;article_code\nBSA;Bouw- en sloopafval;170904;STORT-T\n",
)

WASTE_STREAMS = EntitySpec(
    name="waste_streams",
    schema=WasteStreamCreate,
    checks_on_write=True,
    write=through_service(materials.create_waste_stream, entity=materials.WASTE_STREAM),
    references=(
        CUSTOMER_REF,
        Reference(
            column="processor_number",
            field="processor_site_id",
            load=lambda s, t: customers_repo.processor_numbers(s, tenant_id=t),
            what="processor with number",
        ),
        Reference(
            column="material_code",
            field="material_id",
            load=lambda s, t: keys.material_ids_by_code(s, tenant_id=t),
            what="material with code",
        ),
    ),
    unique=(
        Unique(
            field="number",
            existing=lambda s, t: keys.waste_stream_numbers(s, tenant_id=t),
            what="afvalstroomnummer",
        ),
    ),
    aliases={
        "afvalstroomnummer": "number",
        "nummer": "number",
        "klantnummer": "customer_number",
        "verwerkersnummer": "processor_number",
        "verwerker": "processor_number",
        "materiaal": "material_code",
        "materiaalcode": "material_code",
        "geldig_vanaf": "valid_from",
        "geldig_van": "valid_from",
        "geldig_tot": "valid_until",
        "actief": "is_active",
    },
    example=(
        "number;customer_number;processor_number;material_code;valid_from;valid_until\n"
        "801231234567;10001;80123;BSA;01-01-2026;31-12-2026\n"
    ),
)

ARTICLES = EntitySpec(
    name="articles",
    schema=ArticleCreate,
    checks_on_write=True,
    write=through_service(articles.create_article, entity=articles.ARTICLE),
    unique=(
        Unique(
            field="code",
            existing=lambda s, t: keys.article_ids_by_code(s, tenant_id=t).keys(),
            what="article code",
        ),
    ),
    aliases={
        "artikelcode": "code",
        "naam": "name",
        "omschrijving": "name",
        "eenheid": "unit",
        "btw_categorie": "vat_category",
        "btw_tarief": "vat_rate",
        "btw": "vat_rate",
        "grootboek": "ledger_code",
        "grootboekrekening": "ledger_code",
        "prijs": "default_price",
        "standaardprijs": "default_price",
        "actief": "is_active",
    },
    example=(
        "code;name;unit;vat_category;vat_rate;ledger_code;default_price\n"
        "STORT-T;Storten per ton;TNE;S;21;8000;85,50\n"
    ),
)

REGISTRY: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        CUSTOMERS,
        SITES,
        VEHICLES,
        DRIVERS,
        CONTAINERS,
        MATERIALS,
        WASTE_STREAMS,
        ARTICLES,
    )
}
"""Every importable entity by the name in ``/api/v1/imports/{entity}``."""
