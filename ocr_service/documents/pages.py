"""Operator screens: the upload screen and 受付状況 (what the organisation uploaded and what became of it).

They show statuses, page ranges and failure reasons, never field values: an operator's role
does not read form contents. Uploads go through the same JSON API as the scanner bridge.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ocr_service.api.deps import OperatorCtx
from ocr_service.documents import batches
from ocr_service.forms.service import list_latest_forms
from ocr_service.review.pages import templates

router = APIRouter(include_in_schema=False)


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, ctx: OperatorCtx) -> Response:
    settings = ctx.runtime.settings
    context = {
        "principal": ctx.principal,
        "forms": list_latest_forms(ctx.db),
        "max_mb": settings.max_upload_bytes // (1024 * 1024),
        "max_pages": settings.max_pages,
    }
    ctx.record_view("document.upload_view")
    return templates.TemplateResponse(request, "operator/upload.html", context)


@router.get("/intake", response_class=HTMLResponse)
def intake_page(
    request: Request, ctx: OperatorCtx, page: Annotated[int, Query(ge=1, le=100000)] = 1
) -> Response:
    """受付状況: the organisation's batches (newest first) and the documents each produced."""
    per_page = 30
    views = batches.list_batches(ctx.db, limit=per_page + 1, offset=(page - 1) * per_page)
    context = {
        "principal": ctx.principal,
        "views": views[:per_page],
        "has_more": len(views) > per_page,
        "page": page,
        "form_titles": batches.form_titles(ctx.db),
    }
    ctx.record_view("batch.list", detail={"count": min(len(views), per_page), "page": page})
    return templates.TemplateResponse(request, "operator/intake.html", context)
