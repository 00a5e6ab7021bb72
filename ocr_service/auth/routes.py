"""Login, logout, password change and TOTP enrolment for people (cookie sessions)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from ocr_service.api.deps import AccountCtx, RuntimeDep, SignedInCtx, UnscopedDb
from ocr_service.api.security import CSRF_COOKIE, csrf_token_for
from ocr_service.audit.service import audit
from ocr_service.auth import accounts
from ocr_service.auth.models import User
from ocr_service.auth.network import terminal_of
from ocr_service.auth.passwords import PasswordRejectedError
from ocr_service.auth.policy import effective_policy
from ocr_service.auth.service import STAGE_MFA_ENROL, end_login_session, resolve_login_session
from ocr_service.auth.signin import SignInError, sign_in
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
    otp: str | None = Field(default=None, max_length=40)
    """TOTP code or a recovery code, for accounts with MFA."""


class MeOut(BaseModel):
    user_id: int
    org_id: int
    username: str
    role: str


class LoginOut(MeOut):
    stage: str
    """``full``; ``password_change`` or ``mfa_enrol``: only the account screens work until done."""
    password_warning: str | None = None


def _refuse(exc: SignInError) -> HTTPException:
    return HTTPException(exc.status, detail={"code": exc.code, "message": exc.message})


@router.post("/login", response_model=LoginOut)
def login(
    body: LoginIn, request: Request, response: Response, db: UnscopedDb, runtime: RuntimeDep
) -> LoginOut:
    settings = runtime.settings
    try:
        signed = sign_in(
            db,
            settings=settings,
            username=body.username,
            password=body.password,
            otp=body.otp,
            terminal=terminal_of(request, settings),
        )
    except SignInError as exc:
        raise _refuse(exc) from exc
    set_session_cookies(response, settings=settings, raw_session_id=signed.raw_session_id)
    p = signed.principal
    return LoginOut(
        user_id=p.user_id,
        org_id=p.org_id,
        username=p.username,
        role=p.role,
        stage=signed.stage,
        password_warning=signed.password_warning,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, db: UnscopedDb, runtime: RuntimeDep) -> None:
    cookie = request.cookies.get(runtime.settings.session_cookie_name)
    idle = timedelta(minutes=runtime.settings.session_idle_minutes)
    info = resolve_login_session(db, raw_session_id=cookie, idle=idle) if cookie else None
    principal = info.principal if info else None
    if cookie:
        end_login_session(db, raw_session_id=cookie)
    # Also without a live session: a logout call from nowhere is worth seeing in the log.
    audit(db, principal, "auth.logout", detail={"had_session": principal is not None})
    db.commit()
    clear_session_cookies(response, settings=runtime.settings)


@router.get("/me", response_model=MeOut)
def me(ctx: SignedInCtx) -> MeOut:
    ctx.record_view("auth.me")
    p = ctx.principal
    return MeOut(user_id=p.user_id, org_id=p.org_id, username=p.username, role=p.role)


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=500)
    new_password: str = Field(min_length=1, max_length=500)


class StageOut(BaseModel):
    stage: str
    message: str


@router.post("/password", response_model=StageOut)
def change_password(body: PasswordChangeIn, response: Response, account: AccountCtx) -> StageOut:
    """Change one's own password; every other session of the account ends."""
    ctx, _stage = account
    settings = ctx.runtime.settings
    user = ctx.db.get_one(User, ctx.principal.user_id)
    policy = effective_policy(ctx.db, settings=settings, org_id=user.org_id)
    try:
        raw, stage = accounts.change_own_password(
            ctx.db,
            settings=settings,
            user=user,
            current=body.current_password,
            new=body.new_password,
            policy=policy,
        )
    except PasswordRejectedError as exc:
        raise HTTPException(
            422, detail={"code": "weak_password", "message": " ".join(exc.problems), "problems": exc.problems}
        ) from exc
    except accounts.AccountError as exc:
        raise HTTPException(422, detail={"code": exc.code, "message": exc.message}) from exc
    set_session_cookies(response, settings=settings, raw_session_id=raw)
    return StageOut(stage=stage, message="パスワードを変更しました。")


class MfaEnrolOut(BaseModel):
    secret: str
    uri: str
    qr_svg: str


@router.post("/mfa/enrol", response_model=MfaEnrolOut)
def mfa_enrol(account: AccountCtx) -> MfaEnrolOut:
    """Start (or restart) TOTP enrolment: a new secret and its QR code, drawn on this server."""
    ctx, _stage = account
    ctx.record_view("auth.mfa_enrol_started")
    user = ctx.db.get_one(User, ctx.principal.user_id)
    enrolment = accounts.begin_mfa_enrolment(ctx.db, settings=ctx.runtime.settings, user=user)
    return MfaEnrolOut(secret=enrolment.secret, uri=enrolment.uri, qr_svg=enrolment.qr_svg)


class MfaConfirmIn(BaseModel):
    code: str = Field(min_length=6, max_length=12)
    current_password: str | None = Field(default=None, max_length=500)
    """Needed to replace an existing authenticator, so a borrowed session cannot swap it."""


class RecoveryCodesOut(BaseModel):
    secret: list[str]
    """The 10 one-time recovery codes (shown once)."""
    notice: str = "二要素認証を登録しました。次の回復コードは一度だけ表示されます。印刷するか書き留めて、安全な場所に保管してください。"
    stage: str = "full"


@router.post("/mfa/confirm", response_model=RecoveryCodesOut)
def mfa_confirm(body: MfaConfirmIn, response: Response, account: AccountCtx) -> RecoveryCodesOut:
    ctx, stage = account
    if stage not in ("full", STAGE_MFA_ENROL):
        raise HTTPException(
            403, detail={"code": "password_change_required", "message": "先にパスワードを変更してください。"}
        )
    user = ctx.db.get_one(User, ctx.principal.user_id)
    policy = effective_policy(ctx.db, settings=ctx.runtime.settings, org_id=user.org_id)
    if user.totp_secret is not None and not accounts.confirm_current_password(
        ctx.db, user=user, password=body.current_password or "", policy=policy
    ):
        raise HTTPException(
            422,
            detail={
                "code": "bad_current_password",
                "message": "登録し直すには現在のパスワードを入力してください。",
            },
        )
    try:
        codes, raw = accounts.finish_mfa_enrolment(
            ctx.db, settings=ctx.runtime.settings, user=user, code=body.code
        )
    except accounts.AccountError as exc:
        raise HTTPException(422, detail={"code": exc.code, "message": exc.message}) from exc
    set_session_cookies(response, settings=ctx.runtime.settings, raw_session_id=raw)
    return RecoveryCodesOut(secret=codes)
