"""ログ監査 screens under /admin/audit (admins and 監査担当) and the filtered CSV download."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from ocr_service.admin.nav import register_nav
from ocr_service.admin.pages import render_admin
from ocr_service.api.deps import AuditorCtx, RequestContext
from ocr_service.audit.labels import action_label
from ocr_service.audit.models import AuditEvent
from ocr_service.audit.operations import latest_verify_failure
from ocr_service.audit.review import (
    FLAG_LABELS,
    Filters,
    Flag,
    compute_flags,
    events_csv,
    jst,
    query_events,
    visible_org_ids,
)
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.orgs.models import Organisation
from ocr_service.reports.render import usage_csv, usage_pdf
from ocr_service.reports.usage import ReportError, build_usage_report
from ocr_service.review.pages import templates

router = APIRouter(prefix="/admin/audit", include_in_schema=False)
register_nav("/admin/audit", "ログ監査", role="auditor", order=60)
templates.env.filters["action_ja"] = action_label


def audit_alarm(request: Request) -> AuditEvent | None:
    """The failed verification every admin screen warns about (base template), until a clean one."""
    runtime = request.app.state.runtime
    with runtime.session_factory() as db:
        return latest_verify_failure(db)


templates.env.globals["audit_alarm"] = audit_alarm
templates.env.filters["jst_seconds"] = lambda moment: f"{jst(moment):%Y-%m-%d %H:%M:%S}"

Text = Annotated[str, Query(max_length=100)]


def _date(value: str, errors: list[str], label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{label}は YYYY-MM-DD で指定してください。")
        return None


def _filters(
    user: str, org: str, action: str, form: str, date_from: str, date_to: str, seqs: str
) -> tuple[Filters, list[str]]:
    errors: list[str] = []
    org_id = int(org) if org.isdigit() else None
    seq_list = [int(s) for s in seqs.split(",") if s.strip().isdigit()][:500]
    filters = Filters(
        user=user.strip(),
        org_id=org_id,
        action=action.strip(),
        form=form.strip(),
        date_from=_date(date_from, errors, "開始日"),
        date_to=_date(date_to, errors, "終了日"),
        seqs=seq_list,
    )
    return filters, errors


def _load(ctx: RequestContext, filters: Filters) -> tuple[list[int], bool, list[AuditEvent], list[Flag]]:
    org_ids = visible_org_ids(ctx.db, org_id=ctx.principal.org_id)
    own = ctx.db.get(Organisation, ctx.principal.org_id)
    # Events of no organisation (failed logins of unknown names) go to the top-level organisation's officers.
    include_orgless = own is not None and own.parent_id is None
    events = query_events(ctx.db, org_ids=org_ids, include_orgless=include_orgless, filters=filters)
    flags = compute_flags(ctx.db, events, ctx.runtime.settings)
    return org_ids, include_orgless, events, flags


@router.get("", response_class=HTMLResponse)
def audit_page(
    request: Request,
    ctx: AuditorCtx,
    user: Text = "",
    org: Text = "",
    action: Text = "",
    form: Text = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    seqs: Annotated[str, Query(max_length=4000)] = "",
) -> Response:
    filters, errors = _filters(user, org, action, form, date_from, date_to, seqs)
    org_ids, _orgless, events, flags = _load(ctx, filters)
    orgs = [ctx.db.get(Organisation, i) for i in org_ids]
    values = {
        "user": user,
        "org": org,
        "action": action,
        "form": form,
        "from": date_from,
        "to": date_to,
        "seqs": seqs,
    }
    # The CSV link and the audit detail carry only the filters actually set.
    query = {k: v for k, v in values.items() if v}
    ctx.record_view(
        "audit.review_view", detail={"filters": query, "events": len(events), "flags": len(flags)}
    )
    context = {
        "events": events[:500],
        "total": len(events),
        "flags": flags,
        "flag_labels": FLAG_LABELS,
        "orgs": [o for o in orgs if o is not None],
        "values": values,
        "errors": errors,
        "csv_url": "/admin/audit.csv" + ("?" + urlencode(query) if query else ""),
        "flag_link": lambda f: "/admin/audit?" + urlencode({"seqs": ",".join(str(s) for s in f.seqs)}),
    }
    return render_admin(request, ctx, "admin/audit.html", context)


csv_router = APIRouter(include_in_schema=False)


@csv_router.get("/admin/audit.csv")
def audit_csv(
    ctx: AuditorCtx,
    user: Text = "",
    org: Text = "",
    action: Text = "",
    form: Text = "",
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    seqs: Annotated[str, Query(max_length=4000)] = "",
) -> Response:
    filters, _errors = _filters(user, org, action, form, date_from, date_to, seqs)
    _org_ids, _orgless, events, flags = _load(ctx, filters)
    content = events_csv(events, flags)
    ctx.record_view("audit.csv_download", detail={"events": len(events)})
    return Response(
        content=content,
        media_type="text/csv; charset=Shift_JIS",
        headers={"Content-Disposition": 'attachment; filename="audit_log.csv"', "Cache-Control": "no-store"},
    )


@router.get("/usage")
def usage_report(
    ctx: AuditorCtx,
    month: Annotated[str, Query(max_length=7, pattern=r"^\d{4}-\d{2}$")],
    org: Annotated[int | None, Query()] = None,
    fmt: Annotated[Literal["pdf", "csv"], Query(alias="format")] = "pdf",
) -> Response:
    """利用状況報告 of one organisation the viewer oversees (default: their own) for a month."""
    org_id = org if org is not None else ctx.principal.org_id
    if org_id not in visible_org_ids(ctx.db, org_id=ctx.principal.org_id):
        # Same answer as a missing organisation: another department's existence is not revealed.
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail={"code": "not_found", "message": "見つかりません。"}
        )
    target = ctx.db.get_one(Organisation, org_id)
    set_scope(ctx.db, SYSTEM_SCOPE)  # the report reads the organisation's form layouts (categories)
    try:
        report = build_usage_report(ctx.db, org=target, month=month)
    except ReportError as exc:
        raise HTTPException(422, detail={"code": "bad_month", "message": str(exc)}) from exc
    content = usage_pdf(report) if fmt == "pdf" else usage_csv(report)
    ctx.record_view(
        "report.usage",
        obj_type="organisation",
        obj_id=str(org_id),
        org_id=org_id,
        detail={"month": month, "format": fmt},
    )
    media = "application/pdf" if fmt == "pdf" else "text/csv; charset=Shift_JIS"
    return Response(
        content=content,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="usage_org{org_id}_{month}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )
