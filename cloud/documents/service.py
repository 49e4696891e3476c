from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.documents.models import Document
from cloud.errors import Conflict, NotFound


class DocumentNotFound(NotFound):
    pass


class DocumentInUse(Conflict):
    """The file is already linked to another order: documents never move between orders by
    reference (the same bytes named again for another order are refused, not re-linked)."""


class DocumentOwnedByOther(Conflict):
    """A device named or uploaded a file whose row another device (or the office) made: a
    device only ever references and completes its own files."""


def upsert(
    session: Session,
    *,
    tenant_id: int,
    sha256: str,
    kind: str,
    filename: str,
    content_type: str,
    size: int,
    order_id: int | None = None,
    original_sha256: str | None = None,
    device_id: str | None = None,
    user_id: int | None = None,
    stored: bool | None = None,
) -> Document:
    """Create the document row or complete it (link it to an order, mark the bytes stored).

    The row is unique per (tenant, sha256), so whoever names the bytes first owns the row:

    - a device (``device_id``) may only complete a row it made itself: a reference in one of
      its messages, or its own upload. The message may come before the upload; the row it
      creates then belongs to that device, and the same bytes uploaded later by another device
      do not take it over (:class:`DocumentOwnedByOther`);
    - the office (no ``device_id``) may add any file of its tenant;
    - a row linked to an order is never linked to another one (:class:`DocumentInUse`).
    """
    doc = session.scalar(
        select(Document).where(Document.tenant_id == tenant_id, Document.sha256 == sha256)
    )
    if doc is None:
        doc = Document(
            tenant_id=tenant_id,
            sha256=sha256,
            kind=kind,
            filename=filename,
            content_type=content_type,
            size=size,
            original_sha256=original_sha256,
            device_id=device_id,
            uploaded_by_user_id=user_id,
            stored=bool(stored),
        )
        session.add(doc)
    else:
        if device_id is not None and doc.device_id != device_id:
            raise DocumentOwnedByOther(
                f"document {sha256} was not uploaded by device {device_id!r}: a device may "
                "only reference its own files"
            )
        if order_id is not None and doc.order_id is not None and doc.order_id != order_id:
            raise DocumentInUse(
                f"document {sha256} belongs to another order; documents do not move between orders"
            )
    if order_id is not None:
        doc.order_id = order_id
    if stored:
        doc.stored = True
        doc.size = size  # a row made from a reference did not know the size yet
        doc.content_type = content_type
    if original_sha256 and not doc.original_sha256:
        doc.original_sha256 = original_sha256
    session.flush()
    return doc


def for_order(session: Session, *, tenant_id: int, order_id: int) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .where(Document.tenant_id == tenant_id, Document.order_id == order_id)
            .order_by(Document.id)
        )
    )


def get(session: Session, *, tenant_id: int, document_id: int) -> Document:
    doc = session.scalar(
        select(Document).where(Document.tenant_id == tenant_id, Document.id == document_id)
    )
    if doc is None:
        raise DocumentNotFound(f"document {document_id} not found")
    return doc
