"""CSV import of master data: HTTP only; the rules are in ``cloud.csvimport``.

The file comes as a multipart upload (field ``file``) or as the body itself (``text/csv``).
At most ``MAX_BYTES`` are read (413 beyond, before any parsing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile

from cloud.api.deps import DbSession, allowed
from cloud.csvimport import service
from cloud.csvimport.errors import NoFile
from cloud.csvimport.parsing import MAX_BYTES, check_size
from cloud.csvimport.schemas import ImportRejectedRead, ImportResult
from cloud.permissions import Action
from cloud.tenancy.service import Principal

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])

Importer = Annotated[Principal, Depends(allowed(Action.MASTERDATA_IMPORT))]
Entity = Literal[
    "customers",
    "sites",
    "vehicles",
    "drivers",
    "containers",
    "materials",
    "waste_streams",
    "articles",
]
"""What can be imported: the keys of ``cloud.csvimport.entities.REGISTRY`` (a test keeps the
two equal; a Literal keeps the OpenAPI document and mypy exact)."""

CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel")


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


async def csv_upload(
    request: Request,
    _importer: Importer,  # the permission first: a caller who may not import sends nothing
    file: Annotated[UploadFile | None, File(description="the CSV file (multipart)")] = None,
) -> Upload:
    """The file, from a multipart form or a ``text/csv`` body, read up to the limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit():
        # multipart adds a few hundred bytes of framing around the file
        check_size(max(0, int(declared) - 16 * 1024))
    if file is not None:
        if file.size is not None:
            check_size(file.size)
        data = await file.read(MAX_BYTES + 1)
        check_size(len(data))
        return Upload(filename=file.filename or "upload.csv", data=data)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CSV_TYPES:
        raise NoFile("send the CSV as a multipart field 'file' or as a text/csv body")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        check_size(len(body))
    return Upload(filename="upload.csv", data=bytes(body))


CsvUpload = Annotated[Upload, Depends(csv_upload)]


@router.post(
    "/{entity}",
    response_model=ImportResult,
    responses={
        422: {"model": ImportRejectedRead, "description": "bad rows: nothing was written"},
        413: {"description": f"more than {MAX_BYTES} bytes or too many rows"},
    },
    openapi_extra={
        "requestBody": {
            "content": {"text/csv": {"schema": {"type": "string", "maxLength": MAX_BYTES}}}
        }
    },
)
def import_csv(
    entity: Entity,
    principal: Importer,
    upload: CsvUpload,
    session: DbSession,
    dry_run: Annotated[bool, Query(description="check only, write nothing")] = False,
) -> ImportResult:
    """Checks every row first: with any bad row, the answer is 422 listing each (line as the
    spreadsheet counts it, header = 1; column; reason) and nothing is written. Otherwise all
    rows are written in one transaction, each audited as ``CSV import <filename>``."""
    return service.import_csv(
        session,
        tenant_id=principal.tenant_id,
        entity=entity,
        data=upload.data,
        filename=upload.filename,
        by_user_id=principal.user_id,
        dry_run=dry_run,
    )
