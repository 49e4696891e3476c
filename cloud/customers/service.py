from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.customers.models import Customer
from cloud.errors import Conflict, NotFound

CASH_CUSTOMER_NUMBER = "KAS"


class CustomerNotFound(NotFound):
    pass


def create_customer(
    session: Session, *, tenant_id: int, number: str, name: str, **fields: object
) -> Customer:
    exists = session.scalar(
        select(Customer.id).where(Customer.tenant_id == tenant_id, Customer.number == number)
    )
    if exists is not None:
        raise Conflict(f"customer number {number!r} is taken")
    customer = Customer(tenant_id=tenant_id, number=number, name=name, **fields)
    session.add(customer)
    session.flush()
    return customer


def get_customer(session: Session, *, tenant_id: int, customer_id: int) -> Customer:
    customer = session.scalar(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.id == customer_id)
    )
    if customer is None:
        raise CustomerNotFound(f"customer {customer_id} not found")
    return customer


def cash_customer(session: Session, *, tenant_id: int) -> Customer:
    """The tenant's walk-in cash customer, created on first use."""
    customer = session.scalar(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.is_cash.is_(True))
    )
    if customer is None:
        customer = Customer(
            tenant_id=tenant_id,
            number=CASH_CUSTOMER_NUMBER,
            name="Kasklant (contant)",
            is_cash=True,
            payment_terms_days=0,
        )
        session.add(customer)
        session.flush()
    return customer
