"""API docs (Swagger UI) from the installed ``swagger-ui-bundle`` package: works on closed networks,
loads no third-party script, and needs no inline script (the initialiser is a static file)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/api/v1/docs"
ASSETS_PATH = "/static/swagger-ui"


def install_offline_docs(app: FastAPI) -> None:
    # Mounted before the generic /static mount, which would otherwise shadow it.
    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get(DOCS_PATH, include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request) -> Response:
        from ocr_service.review.pages import templates

        return templates.TemplateResponse(
            request, "api_docs.html", {"openapi_url": app.openapi_url, "assets": ASSETS_PATH}
        )
