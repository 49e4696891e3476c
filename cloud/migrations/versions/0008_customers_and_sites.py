"""customers and sites: indexes for keyset paging and intake matching, unique processor number

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_tenant_name", ["tenant_id", "name", "id"])
        batch_op.create_index("ix_customers_tenant_kvk", ["tenant_id", "kvk"])
        batch_op.create_index("ix_customers_invoice_email", ["invoice_email"])
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_sites_tenant_id_processor_number"), ["tenant_id", "processor_number"]
        )
        batch_op.create_index("ix_sites_tenant_customer", ["tenant_id", "customer_id"])
        batch_op.create_index("ix_sites_tenant_name", ["tenant_id", "name", "id"])


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index("ix_sites_tenant_name")
        batch_op.drop_index("ix_sites_tenant_customer")
        batch_op.drop_constraint(batch_op.f("uq_sites_tenant_id_processor_number"), type_="unique")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_invoice_email")
        batch_op.drop_index("ix_customers_tenant_kvk")
        batch_op.drop_index("ix_customers_tenant_name")
