"""Server-rendered Japanese review screens. They read through the review services and
write through the JSON API (review.js), so the browser and API clients share one path."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ocr_service.api.deps import RequestContext, ReviewerCtx, RuntimeDep, UnscopedDb
from ocr_service.api.errors import framework_http_error
from ocr_service.api.security import safe_next
from ocr_service.auth.models import ROLE_LABELS
from ocr_service.auth.service import resolve_login_session
from ocr_service.db.base import utcnow
from ocr_service.documents.sealing import open_document_names
from ocr_service.documents.service import get_document, list_pages
from ocr_service.documents.status import DocumentStatus, status_label
from ocr_service.export.history import list_exports
from ocr_service.forms.service import has_personal_data_forms, list_latest_forms
from ocr_service.review import double_entry, queue, service
from ocr_service.review.queue import QUEUE_GROUPS
from ocr_service.review.schemas import QueueFilterIn

UNRESOLVED = (DocumentStatus.UNIDENTIFIED, DocumentStatus.EXCLUDED, DocumentStatus.DELETED)
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


def screen_error(request: Request, message: str, status_code: int) -> Response:
    return templates.TemplateResponse(
        request, "review/error.html", {"message": message}, status_code=status_code
    )


@router.get("/")
def home(request: Request, runtime: RuntimeDep, db: UnscopedDb) -> RedirectResponse:
    """Each role lands on its own work: operators on the upload screen, reviewers on the queue."""
    cookie = request.cookies.get(runtime.settings.session_cookie_name)
    idle = timedelta(minutes=runtime.settings.session_idle_minutes)
    info = resolve_login_session(db, raw_session_id=cookie, idle=idle) if cookie else None
    principal = info.principal if info is not None else None
    if principal is not None and principal.role == "auditor":
        return RedirectResponse("/admin/audit", status_code=303)
    if principal is not None and not principal.has_role("reviewer"):
        return RedirectResponse("/upload", status_code=303)
    return RedirectResponse("/review", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next_url: Annotated[str, Query(alias="next", max_length=300)] = "/"
) -> Response:
    # Only same-origin paths: an open redirect after login would help phishing.
    return templates.TemplateResponse(
        request, "review/login.html", {"next_url": safe_next(next_url, default="/")}
    )


def _query_string(query_filter: QueueFilterIn, **changes: object) -> str:
    params = {k: v for k, v in {**query_filter.model_dump(), **changes}.items() if v not in (None, "", 1)}
    return urlencode({k: str(v) for k, v in params.items()})


@router.get("/review", response_class=HTMLResponse)
def queue_page(
    request: Request, ctx: ReviewerCtx, query_filter: Annotated[QueueFilterIn, Query()]
) -> Response:
    view = queue.build_queue(
        ctx.db,
        retention_days=service.retention_days_for(
            ctx.db, org_id=ctx.principal.org_id, default=ctx.runtime.settings.retention_days
        ),
        query_filter=query_filter.to_filter(),
        viewer_id=ctx.principal.user_id,
    )
    ctx.record_view("review.queue_view", detail={"group": query_filter.group, "count": len(view.rows)})
    context = {
        "view": view,
        "rows": view.rows,
        "groups": list(QUEUE_GROUPS),
        "group": query_filter.group,
        "f": query_filter,
        "qs": lambda **changes: _query_string(query_filter, **changes),
        "principal": ctx.principal,
        # Say why documents may be missing instead of letting staff think they are lost.
        "personal_hidden": not ctx.personal_data_network and has_personal_data_forms(ctx.db),
    }
    return templates.TemplateResponse(request, "review/queue.html", context)


@router.get("/exports", response_class=HTMLResponse)
def exports_page(
    request: Request, ctx: ReviewerCtx, form: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """過去の出力: every kept CSV, downloadable again until retention removes it."""
    records = list_exports(ctx.db, form_code=form)
    ctx.record_view("export.list", detail={"form": form, "count": len(records)})
    return templates.TemplateResponse(
        request, "review/exports.html", {"records": records, "form": form, "principal": ctx.principal}
    )


@router.get("/review/next")
def next_page(ctx: ReviewerCtx, query_filter: Annotated[QueueFilterIn, Query()]) -> RedirectResponse:
    """次の文書: soft-claim the oldest unclaimed document waiting for review and open it."""
    document = queue.claim_next_document(
        ctx.db, principal=ctx.principal, query_filter=query_filter.to_filter()
    )
    ctx.record_view(
        "review.next",
        obj_type="document",
        obj_id=document.id if document is not None else "",
        document_id=document.id if document is not None else None,
    )
    if document is None:
        return RedirectResponse("/review?done=1", status_code=303)
    return RedirectResponse(f"/review/documents/{document.id}", status_code=303)


def _audit_view(ctx: RequestContext, document_id: str) -> None:
    ctx.record_view("document.view", obj_type="document", obj_id=document_id, document_id=document_id)


@router.get("/review/documents/{document_id}", response_class=HTMLResponse)
def document_page(request: Request, document_id: str, ctx: ReviewerCtx) -> Response:
    settings = ctx.runtime.settings
    document = get_document(ctx.db, document_id=document_id)
    if document.status == DocumentStatus.DOUBLE_ENTRY and document.confirmed_by != ctx.principal.user_id:
        # 読み合わせ is blind: the second reviewer never sees the first entry, not even here.
        return RedirectResponse(f"/review/documents/{document_id}/blind-entry", status_code=303)
    if document.form_id is None or document.status in UNRESOLVED:
        pages = list_pages(ctx.db, document_id=document.id)
        open_document_names(ctx.db, [document])
        _audit_view(ctx, document.id)
        context = {
            "d": document,
            "pages": pages,
            "forms": list_latest_forms(ctx.db),
            "principal": ctx.principal,
        }
        return templates.TemplateResponse(request, "review/unidentified.html", context)
    review = service.load_document_review(
        ctx.db, document_id=document_id, threshold=settings.confidence_threshold
    )
    claimed = document.status != DocumentStatus.RECOGNIZED or queue.claim_document(
        ctx.db, principal=ctx.principal, document_id=document.id
    )
    _audit_view(ctx, document.id)
    days = service.retention_days_for(ctx.db, org_id=ctx.principal.org_id, default=settings.retention_days)
    erase_at = service.as_aware(review.document.created_at) + timedelta(days=days)
    context = {
        "review": review,
        "threshold": settings.confidence_threshold,
        "principal": ctx.principal,
        "claimed_by_other": not claimed,
        "may_bulk_confirm": ctx.principal.has_role(service.BULK_CONFIRM_ROLE),
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
            if exc.status_code in (403, 404):
                message = "この画面を開く権限がありません。" if exc.status_code == 403 else "見つかりません。"
                if isinstance(exc.detail, dict) and exc.status_code == 403 and code != "forbidden":
                    message = str(exc.detail.get("message") or message)  # e.g. a network restriction
                return screen_error(request, message, exc.status_code)
        return await framework_http_error(request, exc)

    app.add_exception_handler(StarletteHTTPException, handler)
