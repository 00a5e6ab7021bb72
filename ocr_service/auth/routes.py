"""Login and logout for people (cookie sessions)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from ocr_service.api.deps import OperatorCtx, RuntimeDep, UnscopedDb
from ocr_service.api.security import CSRF_COOKIE, csrf_token_for
from ocr_service.audit.service import record_audit_event
from ocr_service.auth.service import AuthError, authenticate_password, create_login_session, end_login_session
from ocr_service.config import Settings

router = APIRouter(prefix="/auth", tags=["auth"])


def set_session_cookies(response: Response, *, settings: Settings, raw_session_id: str) -> None:
    """The session cookie (HttpOnly) and its CSRF token (readable by the page's script)."""
    token = csrf_token_for(secret_key=settings.secret_key.get_secret_value(), session_id=raw_session_id)
    for name, value, httponly in (
        (settings.session_cookie_name, raw_session_id, True),
        (CSRF_COOKIE, token, False),
    ):
        response.set_cookie(
            name,
            value,
            httponly=httponly,
            samesite="strict",
            secure=settings.cookie_secure,
            max_age=settings.session_ttl_minutes * 60,
        )


def clear_session_cookies(response: Response, *, settings: Settings) -> None:
    response.delete_cookie(settings.session_cookie_name)
    response.delete_cookie(CSRF_COOKIE)


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=500)


class MeOut(BaseModel):
    user_id: int
    org_id: int
    username: str
    role: str


@router.post("/login", response_model=MeOut)
def login(body: LoginIn, response: Response, db: UnscopedDb, runtime: RuntimeDep) -> MeOut:
    settings = runtime.settings
    try:
        principal = authenticate_password(db, username=body.username, password=body.password)
    except AuthError as exc:
        record_audit_event(
            db,
            action="auth.login_failed",
            org_id=None,
            user_id=None,
            detail={"username": body.username[:100]},
        )
        db.commit()
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail={"code": "bad_credentials", "message": str(exc)}
        ) from exc
    raw = create_login_session(
        db, user_id=principal.user_id, ttl=timedelta(minutes=settings.session_ttl_minutes)
    )
    record_audit_event(db, action="auth.login", org_id=principal.org_id, user_id=principal.user_id)
    db.commit()
    set_session_cookies(response, settings=settings, raw_session_id=raw)
    return MeOut(
        user_id=principal.user_id, org_id=principal.org_id, username=principal.username, role=principal.role
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, db: UnscopedDb, runtime: RuntimeDep) -> None:
    cookie = request.cookies.get(runtime.settings.session_cookie_name)
    if cookie:
        end_login_session(db, raw_session_id=cookie)
        db.commit()
    clear_session_cookies(response, settings=runtime.settings)


@router.get("/me", response_model=MeOut)
def me(ctx: OperatorCtx) -> MeOut:
    p = ctx.principal
    return MeOut(user_id=p.user_id, org_id=p.org_id, username=p.username, role=p.role)
