"""The CSV import screen: pick what the file holds, upload it, optionally as a dry run. A file
with any bad row shows every problem (line, column, reason) and imports nothing; a good one
is imported in the request's transaction and the count shown. The rules are
``cloud.csvimport``'s."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from cloud.csvimport import service as csvimport
from cloud.csvimport.errors import MAX_REPORTED, ImportRejected
from cloud.csvimport.parsing import MAX_BYTES, check_size
from cloud.csvimport.schemas import ImportResult, RowProblem
from cloud.errors import AppError
from cloud.http.deps import DbSession
from cloud.permissions import Action
from cloud.web import i18n
from cloud.web.masterdata.entities import KINDS
from cloud.web.masterdata.routing import router
from cloud.web.navigation import Page
from cloud.web.session import WebUser, allowed
from cloud.web.templating import render

Importer = Annotated[WebUser, Depends(allowed(Action.MASTERDATA_IMPORT))]
PAGES = [
    Page("GET", "/masterdata/import", Action.MASTERDATA_IMPORT),
    Page("POST", "/masterdata/import", Action.MASTERDATA_IMPORT),
]


def _page(
    request: Request,
    *,
    entity: str = "",
    dry_run: bool = False,
    errors: dict[str, str] | None = None,
    problems: list[RowProblem] | None = None,
    detail: str = "",
    result: ImportResult | None = None,
    status_code: int = 200,
) -> Response:
    specs = [csvimport.spec_for(name) for name in csvimport.entities()]
    return render(
        request,
        "masterdata/import.html",
        status_code=status_code,
        specs=specs,
        kinds=KINDS,
        form={"entity": entity, "dry_run": "on" if dry_run else ""},
        errors=errors or {},
        problems=problems,
        detail=detail,
        truncated=problems is not None and len(problems) >= MAX_REPORTED,
        result=result,
        max_mb=MAX_BYTES // (1024 * 1024),
    )


@router.get("/import")
def import_form(request: Request, user: Importer) -> Response:
    entity = request.query_params.get("entity", "")
    return _page(request, entity=entity if entity in csvimport.entities() else "")


@router.post("/import")
def import_file(
    request: Request,
    session: DbSession,
    user: Importer,
    entity: Annotated[str, Form(max_length=40)] = "",
    dry_run: Annotated[str | None, Form(max_length=5)] = None,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    lang = request.state.web.lang
    checked = bool(dry_run)
    errors: dict[str, str] = {}
    if entity not in csvimport.entities():
        errors["entity"] = "form.error.choice"
    if file is None or not file.filename:
        errors["file"] = "masterdata.import.no_file"
    if errors:
        return _form_errors(request, entity, checked, errors, lang)
    assert file is not None
    try:
        if file.size is not None:
            check_size(file.size)
        data = file.file.read(MAX_BYTES + 1)
        check_size(len(data))
        result = csvimport.import_csv(
            session,
            tenant_id=user.principal.tenant_id,
            entity=entity,
            data=data,
            filename=file.filename or "upload.csv",
            by_user_id=user.principal.user_id,
            dry_run=checked,
        )
    except ImportRejected as exc:
        return _page(
            request,
            entity=entity,
            dry_run=checked,
            problems=list(exc.rows),
            detail=exc.detail,
            status_code=422,
        )
    except AppError as exc:  # too large, a key taken meanwhile: nothing imported either
        return _form_errors(request, entity, checked, {"file": exc.detail}, lang, exc.status_code)
    return _page(request, entity=entity, dry_run=checked, result=result)


def _form_errors(
    request: Request,
    entity: str,
    dry_run: bool,
    errors: dict[str, Any],
    lang: str,
    status_code: int = 422,
) -> Response:
    shown = {
        k: i18n.translate(lang, v) if v.startswith(("form.error.", "masterdata.")) else v
        for k, v in errors.items()
    }
    return _page(request, entity=entity, dry_run=dry_run, errors=shown, status_code=status_code)
