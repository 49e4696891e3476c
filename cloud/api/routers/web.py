"""The health check and the API docs. The pages people use are in ``cloud.web``.

The docs page carries no inline script (the CSP says ``script-src 'self'``): its starter is
``/static/swagger-init.js``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from swagger_ui_bundle import swagger_ui_path

from cloud.errors import NotFound

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parents[1] / "templates"))


@router.get("/healthz")
def health() -> dict[str, str]:
    return {"status": "ok"}


# -- API docs: Swagger UI from the swagger-ui-bundle package, never from a CDN ---------------

docs_router = APIRouter(include_in_schema=False)
SWAGGER_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}


class DocsAssetNotFound(NotFound):
    pass


@docs_router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI; started by ``/static/swagger-init.js``, which reads the OpenAPI URL from
    the page (no inline script)."""
    return templates.TemplateResponse(
        request, "swagger.html", {"title": "OMS API", "openapi_url": request.app.openapi_url}
    )


@docs_router.get("/api/docs/assets/{name}")
def api_docs_asset(name: str) -> FileResponse:
    media_type = SWAGGER_ASSETS.get(name)
    if media_type is None:
        raise DocsAssetNotFound(f"no docs asset {name!r}")
    return FileResponse(
        Path(str(swagger_ui_path)) / name,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )
