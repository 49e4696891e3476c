"""Intake by webhook: the webshop POSTs each order, signed as Standard Webhooks specify.
HTTP only: the signature, the idempotency and the order are the intake service's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, status
from fastapi.responses import JSONResponse

from cloud.api.deps import AppSettings, DbSession
from cloud.db import utcnow
from cloud.intake import service
from cloud.intake.schemas import WebshopAccepted, WebshopOrder
from cloud.orders.service import DateBounds

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])

LOOSE = 1000
"""Header limits far above any valid value: a malformed header is the service's to refuse
(401, like any bad signature), only an absurd one is refused here."""
TenantSlug = Annotated[str, Path(min_length=1, max_length=64, description="the tenant's slug")]


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    """The schema with its ``#/$defs/...`` references replaced by what they name: the
    OpenAPI document has no ``$defs`` of this model (the body is not parsed by FastAPI)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inlined(item, defs) for item in schema]
    return schema


_ORDER_SCHEMA = WebshopOrder.model_json_schema()
_BODY_SCHEMA = _inlined(_ORDER_SCHEMA, _ORDER_SCHEMA.get("$defs", {}))


async def raw_body(request: Request) -> bytes:
    """The body exactly as sent: the signature covers these bytes, not a re-encoding."""
    return await request.body()


@router.get("/webshop/schema")
def webshop_schema() -> dict[str, Any]:
    """The JSON Schema of the order a webshop POSTs (from the pydantic model)."""
    return _ORDER_SCHEMA


@router.post(
    "/webshop/{tenant_slug}",
    response_model=WebshopAccepted,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BODY_SCHEMA}},
        }
    },
    responses={401: {"description": "missing or invalid signature, or unknown tenant"}},
)
def webshop_order(
    tenant_slug: TenantSlug,
    body: Annotated[bytes, Depends(raw_body)],
    session: DbSession,
    settings: AppSettings,
    webhook_id: Annotated[str | None, Header(alias="webhook-id", max_length=LOOSE)] = None,
    webhook_timestamp: Annotated[
        str | None, Header(alias="webhook-timestamp", max_length=LOOSE)
    ] = None,
    webhook_signature: Annotated[
        str | None, Header(alias="webhook-signature", max_length=4 * LOOSE)
    ] = None,
) -> JSONResponse:
    """One signed order from the tenant's webshop. A repeated ``webhook-id`` gets the first
    answer again; the same shop order under another ``webhook-id`` makes no second order
    (``created: false``)."""
    now = utcnow()
    answer = service.receive_webshop_delivery(
        session,
        tenant_slug=tenant_slug,
        headers=service.DeliveryHeaders(webhook_id, webhook_timestamp, webhook_signature),
        body=body,
        now=now,
        dates=DateBounds.for_settings(settings, today=now.date()),
    )
    return JSONResponse(answer.body, status_code=answer.status_code)
