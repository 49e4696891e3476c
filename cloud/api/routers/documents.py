"""Documents: devices upload photos, signatures and tickets (idempotent ``PUT`` by sha256);
the office lists, downloads and adds documents on an order."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict

from cloud.api.deps import CurrentDevice, CurrentUser, DbSession, require_roles
from cloud.documents import service
from cloud.documents.storage import DocumentStore
from cloud.errors import BadRequest
from cloud.orders.service import get_order
from cloud.tenancy.service import Principal

router = APIRouter(prefix="/api/v1", tags=["documents"])
MAX_UPLOAD = 20 * 2**20
KINDS = ("photo", "signature", "ticket", "other")


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int | None
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    original_sha256: str | None
    stored: bool
    device_id: str | None


class UploadTooLarge(BadRequest):
    status_code = 413


class DigestMismatch(BadRequest):
    status_code = 422


def store(request: Request) -> DocumentStore:
    return DocumentStore(request.app.state.settings.data_dir / "documents")


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_UPLOAD:
        raise UploadTooLarge(f"upload of {declared} bytes exceeds {MAX_UPLOAD}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD:
            raise UploadTooLarge(f"upload exceeds {MAX_UPLOAD} bytes")
    return bytes(body)


@router.put("/device/documents/{sha256}", response_model=DocumentRead)
async def device_upload(
    sha256: str,
    request: Request,
    session: DbSession,
    device: CurrentDevice,
    kind: str = "photo",
    filename: str = "upload.bin",
    original_sha256: str | None = None,
) -> DocumentRead:
    """A device uploads a file it named by sha256 in a message. Safe to retry."""
    data = await _read_capped(request)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256.lower():
        raise DigestMismatch(f"body sha256 is {digest}, not {sha256}")
    if kind not in KINDS:
        raise DigestMismatch(f"kind must be one of {KINDS}")
    content_type = request.headers.get("content-type", "application/octet-stream").split(";")[0]
    service.check_content(data, content_type)
    store(request).put(data)
    doc = service.upsert(
        session,
        tenant_id=device.tenant_id,
        sha256=digest,
        kind=kind,
        filename=filename[:120],
        content_type=content_type,
        size=len(data),
        original_sha256=original_sha256,
        device_id=device.id,
        stored=True,
    )
    return DocumentRead.model_validate(doc)


@router.get("/orders/{order_id}/documents", response_model=list[DocumentRead])
def list_documents(order_id: int, session: DbSession, principal: CurrentUser) -> list[DocumentRead]:
    customer = None if principal.roles - {"customer"} else (principal.customer_id or -1)
    get_order(session, tenant_id=principal.tenant_id, order_id=order_id, customer_id=customer)
    docs = service.for_order(session, tenant_id=principal.tenant_id, order_id=order_id)
    return [DocumentRead.model_validate(d) for d in docs]


@router.post(
    "/orders/{order_id}/documents", response_model=DocumentRead, status_code=status.HTTP_201_CREATED
)
async def add_document(
    order_id: int,
    file: UploadFile,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(require_roles("planner", "administrator", "owner"))],
    kind: str = "other",
) -> DocumentRead:
    get_order(session, tenant_id=principal.tenant_id, order_id=order_id)
    if kind not in KINDS:
        raise DigestMismatch(f"kind must be one of {KINDS}")
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise UploadTooLarge(f"upload exceeds {MAX_UPLOAD} bytes")
    content_type = (file.content_type or "application/octet-stream").split(";")[0]
    service.check_content(data, content_type)
    digest = store(request).put(data)
    doc = service.upsert(
        session,
        tenant_id=principal.tenant_id,
        sha256=digest,
        kind=kind,
        filename=(file.filename or "upload")[:120],
        content_type=content_type,
        size=len(data),
        order_id=order_id,
        user_id=principal.user_id,
        stored=True,
    )
    return DocumentRead.model_validate(doc)


@router.get("/documents/{document_id}/content")
def download(
    document_id: int, request: Request, session: DbSession, principal: CurrentUser
) -> Response:
    doc = service.get(session, tenant_id=principal.tenant_id, document_id=document_id)
    customer = None if principal.roles - {"customer"} else (principal.customer_id or -1)
    if doc.order_id is not None:
        get_order(
            session, tenant_id=principal.tenant_id, order_id=doc.order_id, customer_id=customer
        )
    elif customer is not None:
        raise service.DocumentNotFound(f"document {document_id} not found")
    if not doc.stored:
        raise service.DocumentNotFound(f"document {document_id} has not been uploaded yet")
    return Response(
        store(request).get(doc.sha256),
        media_type=doc.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{doc.filename}"',
            "X-Content-SHA256": doc.sha256,
        },
    )
