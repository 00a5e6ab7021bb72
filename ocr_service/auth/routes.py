"""Login and logout for people (cookie sessions)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from ocr_service.api.deps import RuntimeDep, SignedInCtx, UnscopedDb
from ocr_service.audit.service import audit
from ocr_service.auth.service import (
    AuthError,
    authenticate_password,
    create_login_session,
    end_login_session,
    org_of_username,
    resolve_login_session,
)

router = APIRouter(prefix="/auth", tags=["auth"])


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
        # A known account's failures belong to its organisation's log (the caller learns nothing).
        audit(
            db,
            None,
            "auth.login_failed",
            org_id=org_of_username(db, username=body.username),
            detail={"username": body.username[:100]},
        )
        db.commit()
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail={"code": "bad_credentials", "message": str(exc)}
        ) from exc
    raw = create_login_session(
        db, user_id=principal.user_id, ttl=timedelta(minutes=settings.session_ttl_minutes)
    )
    audit(db, principal, "auth.login")
    db.commit()
    response.set_cookie(
        settings.session_cookie_name,
        raw,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        max_age=settings.session_ttl_minutes * 60,
    )
    return MeOut(
        user_id=principal.user_id, org_id=principal.org_id, username=principal.username, role=principal.role
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, db: UnscopedDb, runtime: RuntimeDep) -> None:
    cookie = request.cookies.get(runtime.settings.session_cookie_name)
    principal = resolve_login_session(db, raw_session_id=cookie) if cookie else None
    if cookie:
        end_login_session(db, raw_session_id=cookie)
    # Also without a live session: a logout call from nowhere is worth seeing in the log.
    audit(db, principal, "auth.logout", detail={"had_session": principal is not None})
    db.commit()
    response.delete_cookie(runtime.settings.session_cookie_name)


@router.get("/me", response_model=MeOut)
def me(ctx: SignedInCtx) -> MeOut:
    ctx.record_view("auth.me")
    p = ctx.principal
    return MeOut(user_id=p.user_id, org_id=p.org_id, username=p.username, role=p.role)
