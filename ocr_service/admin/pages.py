"""The admin console shell: ``/admin`` and the template every admin screen extends."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ocr_service.admin.nav import nav_items_for, register_nav
from ocr_service.api.deps import AdminCtx, RequestContext
from ocr_service.review.pages import templates

router = APIRouter(prefix="/admin", include_in_schema=False)

register_nav("/admin", "概要", role="admin", order=0)


def render_admin(
    request: Request, ctx: RequestContext, template: str, context: dict[str, Any] | None = None
) -> Response:
    """Render an admin screen with the shell's menu (only the entries the caller may open)."""
    full = {
        "principal": ctx.principal,
        "nav": nav_items_for(ctx.principal.role),
        "current_path": request.url.path,
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, full)


@router.get("", response_class=HTMLResponse)
def admin_home(request: Request, ctx: AdminCtx) -> Response:
    return render_admin(request, ctx, "admin/home.html")
