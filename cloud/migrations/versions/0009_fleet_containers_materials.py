"""fleet containers materials: a vehicle's kind says whose it is

``vehicles.kind`` is ``truck`` (our own) or ``customer_vehicle`` from now on; what a vehicle
is (``kipper``, ``haakarm``...) is ``vehicle_type`` (migration 0007). Rows written before say
what it is in ``kind``: that moves to ``vehicle_type``, and the kind follows from whether the
vehicle has a customer.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_vehicles = sa.table(
    "vehicles",
    sa.column("kind", sa.String),
    sa.column("vehicle_type", sa.String),
    sa.column("customer_id", sa.Integer),
)
_KINDS = ("truck", "customer_vehicle")


def upgrade() -> None:
    v = _vehicles.c
    op.execute(
        _vehicles.update()
        .where(v.kind.not_in(_KINDS), v.vehicle_type.is_(None))
        .values(vehicle_type=sa.func.substr(v.kind, 1, 40))
    )
    op.execute(
        _vehicles.update()
        .where(v.customer_id.is_not(None), v.kind != "customer_vehicle")
        .values(kind="customer_vehicle")
    )
    op.execute(
        _vehicles.update().where(v.customer_id.is_(None), v.kind != "truck").values(kind="truck")
    )


def downgrade() -> None:
    # Before, ``kind`` said what a vehicle is: put that back where it is known (0007's
    # downgrade then drops ``vehicle_type``); the others keep ``truck``/``customer_vehicle``,
    # valid free text there too.
    v = _vehicles.c
    op.execute(
        _vehicles.update()
        .where(v.vehicle_type.is_not(None))
        .values(kind=sa.func.substr(v.vehicle_type, 1, 40))
    )
