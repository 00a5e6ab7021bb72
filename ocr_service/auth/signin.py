"""Signing in: per-address throttling, account lockout, terminal checks, TOTP, and the stage the
new session starts in (password change / MFA enrolment / full). Every outcome is audited; the
answer to a wrong password never says whether the account exists or is locked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth import mfa
from ocr_service.auth.models import LoginFailure, User
from ocr_service.auth.network import Terminal, in_networks
from ocr_service.auth.passwords import days_until_expiry, expiry_warning
from ocr_service.auth.policy import AccountPolicy, effective_policy
from ocr_service.auth.service import (
    STAGE_FULL,
    STAGE_MFA_ENROL,
    STAGE_PASSWORD,
    Principal,
    as_aware,
    create_login_session,
    end_user_sessions,
    principal_of,
    verify_password,
)
from ocr_service.config import Settings
from ocr_service.db.base import utcnow

BAD_CREDENTIALS = (
    "ユーザー名またはパスワードが正しくありません。続けて間違えると、しばらくログインできなくなります。"
)


class SignInError(Exception):
    """Refused; ``message`` is safe to show, ``status`` is the HTTP status to answer with."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    stage: str
    raw_session_id: str
    password_warning: str | None


def terminal_problem(
    policy: AccountPolicy, terminal: Terminal, *, machine: bool = False
) -> SignInError | None:
    """Why this terminal may not be used by the organisation, or None. Machines (bearer tokens) are
    held to the networks but not to the client certificate, which identifies a person's terminal."""
    if policy.allowed_networks and not in_networks(terminal.ip, policy.allowed_networks):
        return SignInError(
            "terminal_not_allowed",
            "この端末（ネットワーク）からは利用できません。許可された端末から利用してください。",
            403,
        )
    if (
        policy.require_client_cert
        and not machine
        and (
            terminal.cert_subject is None
            or (policy.client_cert_subjects and terminal.cert_subject not in policy.client_cert_subjects)
        )
    ):
        return SignInError(
            "client_certificate_required",
            "この組織では、登録された電子証明書を持つ端末からのみ利用できます。",
            403,
        )
    return None


def _throttled(db: Session, *, settings: Settings, ip: str, now: datetime) -> bool:
    since = now - timedelta(minutes=settings.login_ip_window_minutes)
    # Keep the table small: old failures no longer count for anything.
    db.execute(delete(LoginFailure).where(LoginFailure.created_at < since))
    count = db.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.client_ip == ip, LoginFailure.created_at >= since)
    )
    return int(count or 0) >= settings.login_ip_max_failures


def _fail(
    db: Session,
    *,
    user: User | None,
    username: str,
    terminal: Terminal,
    reason: str,
    policy: AccountPolicy | None,
) -> SignInError:
    now = utcnow()
    db.add(LoginFailure(client_ip=terminal.ip, created_at=now))
    detail = {"username": username[:100], "ip": terminal.ip, "reason": reason}
    if user is not None and policy is not None:
        user.failed_logins += 1
        if user.failed_logins >= policy.lockout_threshold and not _locked(user, now):
            user.locked_until = now + timedelta(minutes=policy.lockout_minutes)
            audit(
                db,
                None,
                "auth.account_locked",
                org_id=user.org_id,
                obj_type="user",
                obj_id=str(user.id),
                detail={"failures": user.failed_logins, "minutes": policy.lockout_minutes, "ip": terminal.ip},
            )
    # A known account's failures belong to its organisation's log; the actor is whoever tried (anonymous).
    # The failed account is the event's object (user_id stays the caller's: nobody signed in).
    audit(
        db,
        None,
        "auth.login_failed",
        org_id=user.org_id if user else None,
        obj_type="user" if user else "",
        obj_id=str(user.id) if user else "",
        detail=detail,
    )
    db.commit()
    if reason == "bad_otp":
        return SignInError("bad_otp", "確認コードが正しくありません。", 401)
    return SignInError("bad_credentials", BAD_CREDENTIALS, 401)


def _locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and as_aware(user.locked_until) > now


def check_second_factor(db: Session, *, settings: Settings, user: User, code: str) -> str | None:
    """``"totp"`` or ``"recovery"`` when ``code`` is a valid, unused second factor; None otherwise."""
    assert user.totp_secret is not None
    secret = mfa.unseal(secret_key=settings.secret_key.get_secret_value(), sealed=user.totp_secret)
    step = mfa.matching_step(secret=secret, code=code, last_step=user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        return "totp"
    hashed = mfa.hash_recovery_code(code)
    if hashed in (user.recovery_codes or []):
        user.recovery_codes = [h for h in user.recovery_codes if h != hashed]
        return "recovery"
    return None


def next_stage(user: User, *, policy: AccountPolicy, now: datetime) -> str:
    left = days_until_expiry(changed_at=as_aware(user.password_changed_at), policy=policy, now=now)
    if user.must_change_password or (left is not None and left < 0):
        return STAGE_PASSWORD
    if user.role in policy.mfa_required_roles and user.totp_secret is None:
        return STAGE_MFA_ENROL
    return STAGE_FULL


def sign_in(
    db: Session,
    *,
    settings: Settings,
    username: str,
    password: str,
    otp: str | None,
    terminal: Terminal,
    now: datetime | None = None,
) -> SignedIn:
    now = now or utcnow()
    if _throttled(db, settings=settings, ip=terminal.ip, now=now):
        audit(db, None, "auth.login_throttled", detail={"ip": terminal.ip})
        db.commit()
        raise SignInError(
            "throttled",
            "ログインの失敗が続いたため、この端末からのログインを一時的に止めています。しばらくしてからやり直してください。",
            429,
        )
    user = db.scalar(select(User).where(User.username == username))
    password_ok = verify_password(user, password)
    policy = effective_policy(db, settings=settings, org_id=user.org_id) if user else None
    if user is None or policy is None or not password_ok or not user.is_active or _locked(user, now):
        reason = "bad_password"
        if user is not None and password_ok:
            reason = "inactive" if not user.is_active else "locked"
        raise _fail(db, user=user, username=username, terminal=terminal, reason=reason, policy=policy)
    problem = terminal_problem(policy, terminal)
    if problem is not None:
        audit(
            db,
            principal_of(user),
            "auth.login_refused_terminal",
            org_id=user.org_id,
            detail={"ip": terminal.ip, "code": problem.code, "subject": terminal.cert_subject or ""},
        )
        db.commit()
        raise problem
    method = "password"
    if user.totp_secret is not None:
        if not otp:
            raise SignInError(
                "mfa_required", "確認コード（認証アプリの 6 桁の数字）を入力してください。", 401
            )
        method = check_second_factor(db, settings=settings, user=user, code=otp) or ""
        if not method:
            raise _fail(db, user=user, username=username, terminal=terminal, reason="bad_otp", policy=policy)
    user.failed_logins = 0
    user.locked_until = None
    stage = next_stage(user, policy=policy, now=now)
    # One session per person: a new login ends the earlier ones (a stolen cookie stops working too).
    end_user_sessions(db, user_id=user.id)
    raw = create_login_session(
        db, user_id=user.id, ttl=timedelta(minutes=settings.session_ttl_minutes), stage=stage
    )
    audit(
        db,
        principal_of(user),
        "auth.login",
        org_id=user.org_id,
        detail={"ip": terminal.ip, "method": method, "stage": stage},
    )
    db.commit()
    warning = expiry_warning(changed_at=as_aware(user.password_changed_at), policy=policy, now=now)
    return SignedIn(principal=principal_of(user), stage=stage, raw_session_id=raw, password_warning=warning)
