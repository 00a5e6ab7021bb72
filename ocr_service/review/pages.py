"""Server-rendered Japanese review screens. They read through the review services and
write through the JSON API (review.js), so the browser and API clients share one path."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ocr_service.api.deps import ReviewerCtx
from ocr_service.api.errors import framework_http_error
from ocr_service.api.security import safe_next
from ocr_service.auth.models import ROLE_LABELS
from ocr_service.db.base import utcnow
from ocr_service.documents.status import DocumentStatus, status_label
from ocr_service.forms.service import has_personal_data_forms
from ocr_service.review import double_entry, service
from ocr_service.review.service import QUEUE_GROUPS

# Staff read times in Japan Standard Time (no daylight saving, so a fixed offset is exact).
JST = timezone(timedelta(hours=9), "JST")
PACKAGE_DIR = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")
# SQLite returns naive UTC datetimes; as_aware makes the conversion right on either database.
templates.env.filters["jst"] = lambda moment: (
    service.as_aware(moment).astimezone(JST).strftime("%Y-%m-%d %H:%M")
)
templates.env.globals["role_labels"] = ROLE_LABELS
# Templates compare against the enum and show the one Japanese label, never their own copies.
templates.env.globals["DocumentStatus"] = DocumentStatus
templates.env.filters["status_ja"] = status_label
router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/review", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next_url: Annotated[str, Query(alias="next", max_length=300)] = "/review"
) -> Response:
    # Only same-origin paths: an open redirect after login would help phishing.
    return templates.TemplateResponse(request, "review/login.html", {"next_url": safe_next(next_url)})


@router.get("/review", response_class=HTMLResponse)
def queue_page(
    request: Request, ctx: ReviewerCtx, group: Annotated[str | None, Query(max_length=10)] = None
) -> Response:
    view = service.build_queue(
        ctx.db,
        retention_days=service.retention_days_for(
            ctx.db, org_id=ctx.principal.org_id, default=ctx.runtime.settings.retention_days
        ),
        group=group,
    )
    ctx.record_view("review.queue_view", detail={"group": group, "count": len(view.rows)})
    context = {
        "view": view,
        "rows": view.rows,
        "groups": list(QUEUE_GROUPS),
        "group": group,
        "principal": ctx.principal,
        # Say why documents may be missing instead of letting staff think they are lost.
        "personal_hidden": not ctx.personal_data_network and has_personal_data_forms(ctx.db),
    }
    return templates.TemplateResponse(request, "review/queue.html", context)


@router.get("/review/documents/{document_id}", response_class=HTMLResponse)
def document_page(request: Request, document_id: str, ctx: ReviewerCtx) -> Response:
    settings = ctx.runtime.settings
    review = service.load_document_review(
        ctx.db, document_id=document_id, threshold=settings.confidence_threshold
    )
    ctx.record_view(
        "document.view", obj_type="document", obj_id=review.document.id, document_id=review.document.id
    )
    ctx.db.commit()
    days = service.retention_days_for(ctx.db, org_id=ctx.principal.org_id, default=settings.retention_days)
    erase_at = service.as_aware(review.document.created_at) + timedelta(days=days)
    context = {
        "review": review,
        "threshold": settings.confidence_threshold,
        "principal": ctx.principal,
        "erase_at": erase_at,
        "erase_soon": erase_at - utcnow() <= timedelta(days=1),
    }
    return templates.TemplateResponse(request, "review/document.html", context)


@router.get("/review/documents/{document_id}/blind-entry", response_class=HTMLResponse)
def blind_entry_page(request: Request, document_id: str, ctx: ReviewerCtx) -> Response:
    threshold = ctx.runtime.settings.confidence_threshold
    fields = double_entry.blind_entry_fields(
        ctx.db, principal=ctx.principal, document_id=document_id, threshold=threshold
    )
    ctx.record_view(
        "review.blind_entry_view", obj_type="document", obj_id=document_id, document_id=document_id
    )
    context = {"document_id": document_id, "fields": fields, "principal": ctx.principal}
    return templates.TemplateResponse(request, "review/blind_entry.html", context)


@router.get("/review/documents/{document_id}/arbitration", response_class=HTMLResponse)
def arbitration_page(request: Request, document_id: str, ctx: ReviewerCtx) -> Response:
    items = double_entry.disagreements(ctx.db, principal=ctx.principal, document_id=document_id)
    ctx.record_view(
        "review.arbitration_view", obj_type="document", obj_id=document_id, document_id=document_id
    )
    context = {"document_id": document_id, "items": items, "principal": ctx.principal}
    return templates.TemplateResponse(request, "review/arbitration.html", context)


def install_login_redirect(app: FastAPI) -> None:
    """Screens send a signed-out user to the login page; the JSON API keeps answering 401."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not request.url.path.startswith("/api/"):
            here = quote(request.url.path)
            if exc.status_code == 401:
                return RedirectResponse(f"/login?next={here}", status_code=303)
            code = exc.detail.get("code") if isinstance(exc.detail, dict) else None
            if code == "password_change_required":
                return RedirectResponse(f"/account/password?next={here}", status_code=303)
            if code == "mfa_enrolment_required":
                return RedirectResponse(f"/account/mfa?next={here}", status_code=303)
        return await framework_http_error(request, exc)

    app.add_exception_handler(StarletteHTTPException, handler)
