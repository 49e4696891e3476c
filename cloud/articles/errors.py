"""Errors of articles."""

from __future__ import annotations

from cloud.errors import Conflict, NotFound, Unprocessable


class ArticleNotFound(NotFound):
    pass


class ArticleExists(Conflict):
    """Another article of the tenant has this code."""


class VatRateInvalid(Unprocessable):
    """The VAT rate does not belong to the VAT category (S: 21 or 9; the others: 0)."""
