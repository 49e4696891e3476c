from __future__ import annotations

import hashlib
from typing import Any

import structlog
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session

from cloud.documents import content
from cloud.documents.models import Document
from cloud.documents.storage import DocumentStore
from cloud.errors import Conflict, NotFound

log = structlog.get_logger("cloud.documents")


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


def accept_upload(
    session: Session,
    *,
    files: DocumentStore,
    data: bytes,
    content_type: str,
    tenant_id: int,
    kind: str,
    filename: str,
    **link: Any,
) -> Document:
    """An uploaded file: check the bytes (``content``), write its row, and only then store
    the file. If the caller's transaction still rolls back, a file this call created is
    removed again; one that was there before stays (content addressing: other rows may use
    it). ``link``: ``order_id``/``user_id`` for the office, ``device_id``/``original_sha256``
    for a device."""
    content.check_content(data, content_type)
    doc = upsert(
        session,
        tenant_id=tenant_id,
        sha256=hashlib.sha256(data).hexdigest(),
        kind=kind,
        filename=filename,
        content_type=content_type,
        size=len(data),
        stored=True,
        **link,
    )
    _store_after_flush(files, session, data)
    return doc


def _store_after_flush(files: DocumentStore, session: Session, data: bytes) -> None:
    digest = hashlib.sha256(data).hexdigest()
    existed = files.exists(digest)
    files.put(data)
    if existed:
        return
    path = files.path(digest)

    def _remove_new_file(rolled_back: Session, *_args: Any) -> None:
        # Another request (another tenant) may have stored the same bytes meanwhile and
        # committed its row: then the file is theirs too and stays.
        try:
            bind = rolled_back.get_bind()
            engine = bind.engine if isinstance(bind, Connection) else bind
            with engine.connect() as conn:
                used = conn.scalar(
                    select(Document.id)
                    .where(Document.sha256 == digest, Document.stored.is_(True))
                    .limit(1)
                )
        except Exception:  # keep the file when in doubt
            log.warning("documents.rollback_check_failed", sha256=digest, exc_info=True)
            return
        if used is None:
            path.unlink(missing_ok=True)
            log.info("documents.upload_rolled_back", sha256=digest)

    event.listen(session, "after_rollback", _remove_new_file, once=True)
