"""Errors of the intake channels (webshop webhook, customer portal)."""

from __future__ import annotations

from cloud.errors import Conflict, Forbidden, Unauthorized, Unprocessable


class WebhookRejected(Unauthorized):
    """401: the delivery is not from the tenant's webshop (headers missing or malformed, the
    timestamp outside the tolerance, no valid signature, or a tenant that does not exist:
    the last two answer exactly alike). Nothing is written."""

    auth_scheme = "Webhook-Signature"


class WebhookPayloadInvalid(Unprocessable):
    """422: a correctly signed delivery whose body is not a webshop order."""


class NotACustomerUser(Forbidden):
    """The portal is for users linked to a customer."""


class DeliveryInProgress(Conflict):
    """409: the same ``webhook-id`` is being taken in by another request; send it again."""
