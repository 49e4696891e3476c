"""Errors of the customers domain (customers and sites)."""

from __future__ import annotations

from cloud.errors import Conflict, NotFound, Unprocessable


class CustomerNotFound(NotFound):
    pass


class SiteNotFound(NotFound):
    pass


class CustomerNumberTaken(Conflict):
    pass


class ProcessorNumberTaken(Conflict):
    pass


class InvalidCustomer(Unprocessable):
    """A change that makes the customer inconsistent (peppol_bis without a Peppol id...)."""


class InvalidSite(Unprocessable):
    """A change that makes the site inconsistent (a customer site without a customer...)."""


class BadCursor(Unprocessable):
    """The ``after`` of a list request is not a cursor this list handed out."""
