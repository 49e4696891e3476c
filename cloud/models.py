"""Imports every model so that ``Base.metadata`` is complete (Alembic, tests)."""

from cloud.customers.models import Customer, Site
from cloud.db import Base
from cloud.devices.models import DeadLetterCounter, Device
from cloud.documents.models import Document
from cloud.fleet.models import Vehicle
from cloud.ingest.models import DeadLetter, IngestReceipt
from cloud.jobs.models import JobAssignment, JobEvent, ProofOfDelivery
from cloud.measurements.models import Measurement, Position
from cloud.orders.models import Order, OrderStatusChange
from cloud.outbox.models import OutboxJob
from cloud.tenancy.models import ApiToken, Tenant, User, UserRole
from cloud.weighings.models import Weighing

__all__ = [
    "ApiToken",
    "Base",
    "Customer",
    "DeadLetter",
    "DeadLetterCounter",
    "Device",
    "Document",
    "IngestReceipt",
    "JobAssignment",
    "JobEvent",
    "Measurement",
    "Order",
    "OrderStatusChange",
    "OutboxJob",
    "Position",
    "ProofOfDelivery",
    "Site",
    "Tenant",
    "User",
    "UserRole",
    "Vehicle",
    "Weighing",
]
