"""Account screens: password change (also forced: first login, reset, expiry) and TOTP enrolment.
They work for a session in a restricted stage, which reaches nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ocr_service.api.deps import AccountCtx
from ocr_service.api.security import safe_next
from ocr_service.auth import accounts
from ocr_service.auth.models import User
from ocr_service.auth.passwords import expiry_warning
from ocr_service.auth.policy import effective_policy
from ocr_service.auth.service import as_aware
from ocr_service.db.base import utcnow
from ocr_service.review.pages import templates

router = APIRouter(include_in_schema=False)
NextParam = Annotated[str, Query(alias="next", max_length=300)]


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, account: AccountCtx, next_url: NextParam = "/review") -> Response:
    ctx, stage = account
    ctx.record_view("account.password_view")
    user = ctx.db.get_one(User, ctx.principal.user_id)
    policy = effective_policy(ctx.db, settings=ctx.runtime.settings, org_id=user.org_id)
    context = {
        "principal": ctx.principal,
        "forced": stage == "password_change",
        "first": user.must_change_password,
        "policy": policy,
        "warning": expiry_warning(changed_at=as_aware(user.password_changed_at), policy=policy, now=utcnow()),
        "next_url": safe_next(next_url),
    }
    return templates.TemplateResponse(request, "account/password.html", context)


@router.get("/account/mfa", response_class=HTMLResponse)
def mfa_page(request: Request, account: AccountCtx, next_url: NextParam = "/review") -> Response:
    ctx, stage = account
    ctx.record_view("account.mfa_view")
    user = ctx.db.get_one(User, ctx.principal.user_id)
    enrolment = accounts.begin_mfa_enrolment(ctx.db, settings=ctx.runtime.settings, user=user)
    context = {
        "principal": ctx.principal,
        "forced": stage == "mfa_enrol",
        "enrolled": user.totp_secret is not None,
        "enrolment": enrolment,
        "next_url": safe_next(next_url),
    }
    return templates.TemplateResponse(request, "account/mfa.html", context)
