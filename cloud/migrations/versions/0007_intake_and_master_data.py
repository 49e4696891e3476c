"""Intake and master data: number series, field audit, containers, materials, waste streams,
articles, drivers, order lines, webhook secrets and deliveries, schedules; billing fields on
customers, access notes on sites, container types on vehicles

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cloud.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("vat_category", sa.String(length=2), nullable=False),
        sa.Column("vat_rate", cloud.db.ExactDecimal(precision=5, scale=2), nullable=False),
        sa.Column("ledger_code", sa.String(length=20), nullable=True),
        sa.Column("default_price", cloud.db.ExactDecimal(precision=12, scale=4), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_articles_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_articles_tenant_id_code")),
    )
    op.create_index(op.f("ix_articles_tenant_id"), "articles", ["tenant_id"], unique=False)
    op.create_table(
        "number_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("next_value", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_number_series_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_series")),
        sa.UniqueConstraint(
            "tenant_id", "purpose", name=op.f("uq_number_series_tenant_id_purpose")
        ),
    )
    op.create_table(
        "webhook_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("created_at", cloud.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", cloud.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_webhook_secrets_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_secrets")),
    )
    op.create_index(
        op.f("ix_webhook_secrets_tenant_id"), "webhook_secrets", ["tenant_id"], unique=False
    )
    op.create_table(
        "materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("eural_code", sa.String(length=7), nullable=True),
        sa.Column("hazardous", sa.Boolean(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_materials_article_id_articles")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_materials_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_materials")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_materials_tenant_id_code")),
    )
    op.create_index(op.f("ix_materials_tenant_id"), "materials", ["tenant_id"], unique=False)
    op.create_table(
        "drivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("licence_categories", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("licence_valid_until", sa.Date(), nullable=True),
        sa.Column("adr", sa.Boolean(), nullable=False),
        sa.Column("adr_valid_until", sa.Date(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_drivers_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_drivers_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drivers")),
        sa.UniqueConstraint("tenant_id", "user_id", name=op.f("uq_drivers_tenant_id_user_id")),
    )
    op.create_index(op.f("ix_drivers_tenant_id"), "drivers", ["tenant_id"], unique=False)
    op.create_table(
        "field_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("at", cloud.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("by_device_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_field_changes_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_field_changes_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_changes")),
    )
    op.create_index(
        "ix_field_changes_entity",
        "field_changes",
        ["tenant_id", "entity", "entity_id", "id"],
        unique=False,
    )
    op.create_table(
        "waste_streams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=12), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("processor_site_id", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_waste_streams_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["material_id"], ["materials.id"], name=op.f("fk_waste_streams_material_id_materials")
        ),
        sa.ForeignKeyConstraint(
            ["processor_site_id"],
            ["sites.id"],
            name=op.f("fk_waste_streams_processor_site_id_sites"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_waste_streams_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waste_streams")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_waste_streams_tenant_id_number")),
    )
    op.create_index(
        "ix_waste_streams_customer_material",
        "waste_streams",
        ["tenant_id", "customer_id", "material_id"],
        unique=False,
    )
    op.create_table(
        "containers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("container_type", sa.String(length=60), nullable=False),
        sa.Column("volume_m3", cloud.db.ExactDecimal(precision=8, scale=3), nullable=True),
        sa.Column("rfid_tag", sa.String(length=32), nullable=True),
        sa.Column("location_kind", sa.String(length=10), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column("located_since", cloud.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_order_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["last_order_id"],
            ["orders.id"],
            name=op.f("fk_containers_last_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_containers_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_containers_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_containers_vehicle_id_vehicles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_containers")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_containers_tenant_id_number")),
        sa.UniqueConstraint("tenant_id", "rfid_tag", name=op.f("uq_containers_tenant_id_rfid_tag")),
    )
    op.create_index(op.f("ix_containers_site_id"), "containers", ["site_id"], unique=False)
    op.create_index(op.f("ix_containers_tenant_id"), "containers", ["tenant_id"], unique=False)
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("order_type", sa.String(length=30), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=True),
        sa.Column("container_id", sa.Integer(), nullable=True),
        sa.Column("container_type", sa.String(length=60), nullable=True),
        sa.Column(
            "expected_quantity_kg", cloud.db.ExactDecimal(precision=12, scale=3), nullable=True
        ),
        sa.Column("weekdays", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("every_n_weeks", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("until_date", sa.Date(), nullable=True),
        sa.Column("days_ahead", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("generated_until", sa.Date(), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", cloud.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["container_id"], ["containers.id"], name=op.f("fk_schedules_container_id_containers")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_schedules_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["material_id"], ["materials.id"], name=op.f("fk_schedules_material_id_materials")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_schedules_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_schedules_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_index(op.f("ix_schedules_tenant_id"), "schedules", ["tenant_id"], unique=False)
    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("quantity", cloud.db.ExactDecimal(precision=14, scale=4), nullable=True),
        sa.Column("unit_price", cloud.db.ExactDecimal(precision=12, scale=4), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_order_lines_article_id_articles")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_order_lines_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
    )
    op.create_index(op.f("ix_order_lines_order_id"), "order_lines", ["order_id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", cloud.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_webhook_deliveries_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_webhook_deliveries_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "tenant_id", "webhook_id", name=op.f("uq_webhook_deliveries_tenant_id_webhook_id")
        ),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=30), nullable=True))
        batch_op.add_column(
            sa.Column(
                "invoice_grouping",
                sa.String(length=20),
                server_default=sa.text("'per_order'"),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "einvoice_format",
                sa.String(length=20),
                server_default=sa.text("'pdf'"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("peppol_id", sa.String(length=60), nullable=True))
        batch_op.add_column(
            sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_customers_email"), ["email"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("container_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("material_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("waste_stream_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("expected_containers", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("created_by_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("cancelled_at", cloud.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_material_id_materials"), "materials", ["material_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_waste_stream_id_waste_streams"),
            "waste_streams",
            ["waste_stream_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_container_id_containers"), "containers", ["container_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_created_by_user_id_users"),
            "users",
            ["created_by_user_id"],
            ["id"],
        )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "country", sa.String(length=2), server_default=sa.text("'NL'"), nullable=False
            )
        )
        batch_op.add_column(sa.Column("access_notes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("processor_number", sa.String(length=5), nullable=True))
        batch_op.add_column(
            sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    # Order numbers move from the tenant row to the number series, where they continue.
    op.execute(
        "INSERT INTO number_series (tenant_id, purpose, prefix, next_value, width) "
        "SELECT id, 'order', '{year}-', next_order_number, 6 FROM tenants"
    )
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("next_order_number")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locale", sa.String(length=5), server_default=sa.text("'nl'"), nullable=False)
        )
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vehicle_type", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column(
                "allowed_container_types", sa.JSON(), server_default=sa.text("'[]'"), nullable=False
            )
        )
        batch_op.add_column(sa.Column("licence_category", sa.String(length=5), nullable=True))
        batch_op.add_column(
            sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("vehicles", schema=None) as batch_op:
        batch_op.drop_column("is_active")
        batch_op.drop_column("licence_category")
        batch_op.drop_column("allowed_container_types")
        batch_op.drop_column("vehicle_type")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locale")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "next_order_number",
                sa.INTEGER(),
                autoincrement=False,
                server_default="1",
                nullable=False,
            )
        )
    op.execute(
        "UPDATE tenants SET next_order_number = COALESCE((SELECT next_value FROM number_series "
        "WHERE number_series.tenant_id = tenants.id AND purpose = 'order'), 1)"
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("is_active")
        batch_op.drop_column("processor_number")
        batch_op.drop_column("access_notes")
        batch_op.drop_column("country")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_orders_created_by_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_orders_container_id_containers"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_orders_waste_stream_id_waste_streams"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_orders_material_id_materials"), type_="foreignkey")
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("created_by_user_id")
        batch_op.drop_column("expected_containers")
        batch_op.drop_column("waste_stream_id")
        batch_op.drop_column("material_id")
        batch_op.drop_column("container_id")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_email"))
        batch_op.drop_column("notes")
        batch_op.drop_column("needs_review")
        batch_op.drop_column("is_active")
        batch_op.drop_column("peppol_id")
        batch_op.drop_column("einvoice_format")
        batch_op.drop_column("invoice_grouping")
        batch_op.drop_column("phone")
        batch_op.drop_column("email")
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_order_lines_order_id"), table_name="order_lines")
    op.drop_table("order_lines")
    op.drop_index(op.f("ix_schedules_tenant_id"), table_name="schedules")
    op.drop_table("schedules")
    op.drop_index(op.f("ix_containers_tenant_id"), table_name="containers")
    op.drop_index(op.f("ix_containers_site_id"), table_name="containers")
    op.drop_table("containers")
    op.drop_index("ix_waste_streams_customer_material", table_name="waste_streams")
    op.drop_table("waste_streams")
    op.drop_index("ix_field_changes_entity", table_name="field_changes")
    op.drop_table("field_changes")
    op.drop_index(op.f("ix_drivers_tenant_id"), table_name="drivers")
    op.drop_table("drivers")
    op.drop_index(op.f("ix_materials_tenant_id"), table_name="materials")
    op.drop_table("materials")
    op.drop_index(op.f("ix_webhook_secrets_tenant_id"), table_name="webhook_secrets")
    op.drop_table("webhook_secrets")
    op.drop_table("number_series")
    op.drop_index(op.f("ix_articles_tenant_id"), table_name="articles")
    op.drop_table("articles")
