"""API docs (Swagger UI 5, which reads OpenAPI 3.1) from the installed ``swagger-ui-py`` package's
static files: works on closed networks, loads no third-party script, and needs no inline script
(the initialiser is a static file)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/api/v1/docs"
ASSETS_PATH = "/static/swagger-ui"


def install_offline_docs(app: FastAPI) -> None:
    # Mounted before the generic /static mount, which would otherwise shadow it.
    assets = Path(swagger_ui.__file__).resolve().parent / "static"
    app.mount(ASSETS_PATH, StaticFiles(directory=assets), name="swagger-ui")

    @app.get(DOCS_PATH, include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request) -> Response:
        from ocr_service.review.pages import templates

        return templates.TemplateResponse(
            request, "api_docs.html", {"openapi_url": app.openapi_url, "assets": ASSETS_PATH}
        )
