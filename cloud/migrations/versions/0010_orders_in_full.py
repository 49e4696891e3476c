"""orders in full: indexes for keyset paging of the order list and the order bin

Every order list is ``ORDER BY id DESC`` within a tenant (``cloud.orders.repository``), so
each filter the list offers has an index ending in ``id``; a list filtered by requested date
is sorted by that date, then ``id`` (``ix_orders_tenant_requested_date``); a customer's orders
in one status have ``ix_orders_tenant_customer_status_id``. The order bin (status
``created``, soonest requested date first) has a partial index of its own. The two indexes
they replace (``(tenant_id, status)`` and ``(customer_id)``) are prefixes of new ones.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIN_WHERE = "status = 'created'"


def upgrade() -> None:
    op.create_index("ix_orders_tenant_id_id", "orders", ["tenant_id", "id"])
    op.create_index("ix_orders_tenant_status_id", "orders", ["tenant_id", "status", "id"])
    op.create_index("ix_orders_tenant_customer_id", "orders", ["tenant_id", "customer_id", "id"])
    op.create_index(
        "ix_orders_tenant_customer_status_id",
        "orders",
        ["tenant_id", "customer_id", "status", "id"],
    )
    op.create_index(
        "ix_orders_tenant_requested_date", "orders", ["tenant_id", "requested_date", "id"]
    )
    op.create_index(
        "ix_orders_bin",
        "orders",
        ["tenant_id", "requested_date", "id"],
        postgresql_where=sa.text(BIN_WHERE),
        sqlite_where=sa.text(BIN_WHERE),
    )
    op.drop_index("ix_orders_tenant_status", table_name="orders")
    op.drop_index("ix_orders_customer_id", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    op.create_index("ix_orders_tenant_status", "orders", ["tenant_id", "status"])
    op.drop_index("ix_orders_bin", table_name="orders")
    op.drop_index("ix_orders_tenant_requested_date", table_name="orders")
    op.drop_index("ix_orders_tenant_customer_status_id", table_name="orders")
    op.drop_index("ix_orders_tenant_customer_id", table_name="orders")
    op.drop_index("ix_orders_tenant_status_id", table_name="orders")
    op.drop_index("ix_orders_tenant_id_id", table_name="orders")
