"""The admin console shell: ``/admin`` and the template every admin screen extends."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ocr_service.admin import service
from ocr_service.admin.nav import nav_items_for, register_nav
from ocr_service.api.deps import AdminCtx, RequestContext
from ocr_service.auth.models import ROLES
from ocr_service.auth.service import as_aware
from ocr_service.db.base import utcnow
from ocr_service.forms.service import list_latest_forms
from ocr_service.review.pages import templates

router = APIRouter(prefix="/admin", include_in_schema=False)

register_nav("/admin", "概要", role="admin", order=0)


def render_admin(
    request: Request, ctx: RequestContext, template: str, context: dict[str, Any] | None = None
) -> Response:
    """Render an admin screen with the shell's menu (only the entries the caller may open).

    Each screen records its own view (``ctx.record_view``) before rendering.
    """
    full = {
        "principal": ctx.principal,
        "nav": nav_items_for(ctx.principal.role),
        "current_path": request.url.path,
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, full)


@router.get("", response_class=HTMLResponse)
def admin_home(request: Request, ctx: AdminCtx) -> Response:
    ctx.record_view("admin.home_view")
    now = utcnow()
    users = service.list_users(ctx.db, principal=ctx.principal)
    tokens = [t for t, _u in service.list_tokens(ctx.db, principal=ctx.principal) if t.revoked_at is None]
    soon = now + timedelta(days=30)
    context = {
        "locked": [u for u in users if service.is_locked(u, now)],
        "expiring": [t for t in tokens if t.expires_at and now < as_aware(t.expires_at) <= soon],
    }
    return render_admin(request, ctx, "admin/home.html", context)


register_nav("/admin/orgs", "組織", role="admin", order=10)
register_nav("/admin/users", "ユーザー", role="admin", order=20)
register_nav("/admin/tokens", "機械用トークン", role="admin", order=30)
register_nav("/admin/policies", "ポリシー", role="admin", order=40)


@router.get("/orgs", response_class=HTMLResponse)
def orgs_page(request: Request, ctx: AdminCtx) -> Response:
    ctx.record_view("admin.org_list")
    tree = service.org_tree(ctx.db, principal=ctx.principal)
    return render_admin(request, ctx, "admin/orgs.html", {"tree": tree})


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, ctx: AdminCtx) -> Response:
    ctx.record_view("admin.user_list")
    tree = service.org_tree(ctx.db, principal=ctx.principal)
    users = service.list_users(ctx.db, principal=ctx.principal)
    names = {n.org.id: n.org.name for n in tree}
    roles = [r for r in ROLES if r != "sysadmin" or ctx.principal.role == "sysadmin"]
    context = {
        "tree": tree,
        "users": users,
        "org_names": names,
        "roles": roles,
        "is_locked": service.is_locked,
    }
    return render_admin(request, ctx, "admin/users.html", context)


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, ctx: AdminCtx) -> Response:
    ctx.record_view("admin.token_list")
    tokens = service.list_tokens(ctx.db, principal=ctx.principal)
    users = [u for u in service.list_users(ctx.db, principal=ctx.principal) if u.is_active]
    return render_admin(
        request, ctx, "admin/tokens.html", {"tokens": tokens, "users": users, "now": utcnow()}
    )


@router.get("/policies", response_class=HTMLResponse)
def policies_page(request: Request, ctx: AdminCtx, org: Annotated[int | None, Query()] = None) -> Response:
    tree = service.org_tree(ctx.db, principal=ctx.principal)
    view = service.policy_view(
        ctx.db, settings=ctx.runtime.settings, principal=ctx.principal, org_id=org or ctx.principal.org_id
    )
    forms = list_latest_forms(ctx.db) if view.org.id == ctx.principal.org_id else []
    ctx.record_view("admin.policy_view", obj_type="organisation", obj_id=str(view.org.id))
    context = {"tree": tree, "view": view, "forms": forms, "roles": ROLES}
    return render_admin(request, ctx, "admin/policies.html", context)
