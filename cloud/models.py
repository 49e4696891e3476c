"""Imports every model so that ``Base.metadata`` is complete (Alembic, tests)."""

from cloud.customers.models import Customer, Site
from cloud.db import Base
from cloud.devices.models import Device
from cloud.fleet.models import Vehicle
from cloud.ingest.models import DeadLetter, IngestReceipt
from cloud.measurements.models import Measurement, Position
from cloud.orders.models import Order, OrderStatusChange
from cloud.tenancy.models import ApiToken, Tenant, User, UserRole
from cloud.weighings.models import Weighing

__all__ = [
    "ApiToken",
    "Base",
    "Customer",
    "DeadLetter",
    "Device",
    "IngestReceipt",
    "Measurement",
    "Order",
    "OrderStatusChange",
    "Position",
    "Site",
    "Tenant",
    "User",
    "UserRole",
    "Vehicle",
    "Weighing",
]
