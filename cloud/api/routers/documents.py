"""Documents: devices upload photos, signatures and tickets (idempotent ``PUT`` by sha256);
the office lists, downloads and adds documents on an order.

Uploads: every parameter is validated before the body is read, the bytes are checked
(``cloud.documents.content``) before anything is stored, and the file is written to the
document store only after the database accepted the row; if the transaction still rolls back,
a file this request created is removed again (one that was there before stays: content
addressing means other rows may use it)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cloud.api.deps import CurrentDevice, DbSession, allowed
from cloud.api.params import IdPath, Sha256Path
from cloud.documents import content, service
from cloud.documents.download import download_response
from cloud.documents.models import Document
from cloud.documents.storage import DocumentStore
from cloud.errors import Unprocessable
from cloud.orders.scope import OrderScope
from cloud.orders.service import get_order
from cloud.permissions import Action
from cloud.tenancy.service import Principal
from cloud.types import SHA256_PATTERN

log = structlog.get_logger("cloud.api.documents")
router = APIRouter(prefix="/api/v1", tags=["documents"])
Reader = Annotated[Principal, Depends(allowed(Action.DOCUMENT_READ))]
"""Which documents a reader sees is the order scope's (a customer its own orders' only)."""
Writer = Annotated[Principal, Depends(allowed(Action.DOCUMENT_WRITE))]
Kind = Annotated[content.DocumentKind, Query(description="what the file is")]
Filename = Annotated[
    str, Query(min_length=1, max_length=content.MAX_FILENAME, description="the file's name")
]
OriginalSha256 = Annotated[
    str | None,
    Query(
        min_length=64,
        max_length=64,
        pattern=SHA256_PATTERN,
        description="sha256 of the file as captured, before the device processed it",
    ),
]


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


class DigestMismatch(Unprocessable):
    pass


def store(request: Request) -> DocumentStore:
    return DocumentStore(request.app.state.settings.data_dir / "documents")


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit():
        content.check_size(int(declared))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        content.check_size(len(body))
    return bytes(body)


def _accept(request: Request, session: Session, **kwargs: Any) -> Document:
    return service.accept_upload(session, files=store(request), **kwargs)


@router.put("/device/documents/{sha256}", response_model=DocumentRead)
async def device_upload(
    sha256: Sha256Path,
    request: Request,
    session: DbSession,
    device: CurrentDevice,
    kind: Kind = "photo",
    filename: Filename = "upload.bin",
    original_sha256: OriginalSha256 = None,
) -> DocumentRead:
    """A device uploads a file it named by sha256 in a message. Safe to retry."""
    name = content.check_filename(filename)
    content_type = content.media_type(request.headers.get("content-type"))
    if content_type not in content.ALLOWED_TYPES:
        raise content.DocumentRejected(
            f"content type {content_type!r} not allowed: {sorted(content.ALLOWED_TYPES)}"
        )
    data = await _read_capped(request)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256.lower():
        raise DigestMismatch(f"body sha256 is {digest}, not {sha256.lower()}")
    doc = await run_in_threadpool(
        _accept,
        request,
        session,
        data=data,
        content_type=content_type,
        tenant_id=device.tenant_id,
        kind=kind,
        filename=name,
        original_sha256=original_sha256.lower() if original_sha256 else None,
        device_id=device.id,
    )
    return DocumentRead.model_validate(doc)


@router.get("/orders/{order_id}/documents", response_model=list[DocumentRead])
def list_documents(order_id: IdPath, session: DbSession, principal: Reader) -> list[DocumentRead]:
    scope = OrderScope.for_principal(principal)
    get_order(session, tenant_id=principal.tenant_id, order_id=order_id, scope=scope)
    docs = service.for_order(session, tenant_id=principal.tenant_id, order_id=order_id)
    return [DocumentRead.model_validate(d) for d in docs]


@router.post(
    "/orders/{order_id}/documents", response_model=DocumentRead, status_code=status.HTTP_201_CREATED
)
async def add_document(
    order_id: IdPath,
    file: UploadFile,
    request: Request,
    session: DbSession,
    principal: Writer,
    kind: Kind = "other",
) -> DocumentRead:
    await run_in_threadpool(get_order, session, tenant_id=principal.tenant_id, order_id=order_id)
    name = content.check_filename(file.filename or "upload")
    if file.size is not None:
        content.check_size(file.size)
    data = await file.read(content.MAX_UPLOAD_BYTES + 1)
    content.check_size(len(data))
    doc = await run_in_threadpool(
        _accept,
        request,
        session,
        data=data,
        content_type=content.media_type(file.content_type),
        tenant_id=principal.tenant_id,
        kind=kind,
        filename=name,
        order_id=order_id,
        user_id=principal.user_id,
    )
    return DocumentRead.model_validate(doc)


@router.get("/documents/{document_id}/content")
def download(
    document_id: IdPath, request: Request, session: DbSession, principal: Reader
) -> Response:
    """The stored bytes, as an attachment, with the content type checked at upload."""
    doc = service.get(session, tenant_id=principal.tenant_id, document_id=document_id)
    scope = OrderScope.for_principal(principal)
    if doc.order_id is not None:
        get_order(session, tenant_id=principal.tenant_id, order_id=doc.order_id, scope=scope)
    elif scope != OrderScope.whole_tenant(principal.tenant_id):
        # Not linked to an order yet: only the office sees it.
        raise service.DocumentNotFound(f"document {document_id} not found")
    if not doc.stored:
        raise service.DocumentNotFound(f"document {document_id} has not been uploaded yet")
    return download_response(
        store(request).get(doc.sha256),
        filename=doc.filename,
        content_type=doc.content_type,
        sha256=doc.sha256,
    )
