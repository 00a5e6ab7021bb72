"""Account changes made by the user (password, MFA enrolment) or by an admin (reset, disable,
unlock, MFA reset). Each ends the sessions it must and leaves an audit event."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ocr_service.audit.service import record_audit_event
from ocr_service.auth import mfa
from ocr_service.auth.models import PasswordHistory, User
from ocr_service.auth.passwords import PasswordRejectedError, password_problems
from ocr_service.auth.policy import AccountPolicy
from ocr_service.auth.service import (
    STAGE_FULL,
    as_aware,
    create_login_session,
    end_user_sessions,
    hash_password,
    verify_password,
)
from ocr_service.auth.signin import next_stage
from ocr_service.config import Settings
from ocr_service.db.base import utcnow


class AccountError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def previous_hashes(db: Session, *, user: User) -> list[str]:
    rows = db.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
    )
    return [user.password_hash, *rows]


def confirm_current_password(
    db: Session, *, user: User, password: str, policy: AccountPolicy, now: datetime | None = None
) -> bool:
    """Re-check the signed-in user's password (password change, authenticator replacement). A wrong
    one counts toward the lockout like a wrong login, so a borrowed session cannot guess it."""
    now = now or utcnow()
    locked = user.locked_until is not None and as_aware(user.locked_until) > now
    if not locked and verify_password(user, password):
        return True
    user.failed_logins += 1
    if user.failed_logins >= policy.lockout_threshold and not locked:
        user.locked_until = now + timedelta(minutes=policy.lockout_minutes)
    record_audit_event(
        db,
        action="auth.password_recheck_failed",
        org_id=user.org_id,
        user_id=user.id,
        object_type="user",
        object_id=str(user.id),
    )
    db.commit()
    return False


def check_new_password(db: Session, *, user: User, password: str, policy: AccountPolicy) -> None:
    problems = password_problems(
        password, username=user.username, policy=policy, previous_hashes=previous_hashes(db, user=user)
    )
    if problems:
        raise PasswordRejectedError(problems)


def store_password(db: Session, *, user: User, password: str, policy: AccountPolicy, now: datetime) -> None:
    db.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=now))
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    db.flush()
    keep = max(policy.password_history, 1)
    stale = (
        select(PasswordHistory.id)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
        .offset(keep)
    )
    db.execute(delete(PasswordHistory).where(PasswordHistory.id.in_(stale.scalar_subquery())))


def change_own_password(
    db: Session,
    *,
    settings: Settings,
    user: User,
    current: str,
    new: str,
    policy: AccountPolicy,
    now: datetime | None = None,
) -> tuple[str, str]:
    """Change the caller's password; every session of the user ends and a fresh one starts.
    Returns the new raw session id and its stage (MFA enrolment may still be due)."""
    now = now or utcnow()
    if not confirm_current_password(db, user=user, password=current, policy=policy, now=now):
        raise AccountError("bad_current_password", "現在のパスワードが正しくありません。")
    check_new_password(db, user=user, password=new, policy=policy)
    store_password(db, user=user, password=new, policy=policy, now=now)
    user.must_change_password = False
    stage = next_stage(user, policy=policy, now=now)
    raw = _rotate_own_session(db, settings=settings, user=user, stage=stage, action="auth.password_changed")
    return raw, stage


def _rotate_own_session(db: Session, *, settings: Settings, user: User, stage: str, action: str) -> str:
    """After a credential change: end every session of the user, open a fresh one (the session id
    rotates on privilege change), audit the change and commit. Returns the new raw session id."""
    end_user_sessions(db, user_id=user.id)
    raw = create_login_session(
        db, user_id=user.id, ttl=timedelta(minutes=settings.session_ttl_minutes), stage=stage
    )
    record_audit_event(
        db, action=action, org_id=user.org_id, user_id=user.id, object_type="user", object_id=str(user.id)
    )
    db.commit()
    return raw


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str


def begin_mfa_enrolment(db: Session, *, settings: Settings, user: User) -> Enrolment:
    """A new pending secret (the active one, if any, keeps working until the code checks out)."""
    secret = mfa.new_secret()
    user.totp_pending = mfa.seal(secret_key=settings.secret_key.get_secret_value(), plaintext=secret)
    db.commit()
    uri = mfa.provisioning_uri(secret=secret, username=user.username)
    return Enrolment(secret=secret, uri=uri, qr_svg=mfa.qr_svg(uri))


def finish_mfa_enrolment(db: Session, *, settings: Settings, user: User, code: str) -> tuple[list[str], str]:
    """Activate the pending secret once ``code`` matches; returns the recovery codes (shown once)
    and a fresh session id (privilege change: the session id rotates)."""
    if user.totp_pending is None:
        raise AccountError("no_enrolment", "登録を始めてからコードを入力してください。")
    secret = mfa.unseal(secret_key=settings.secret_key.get_secret_value(), sealed=user.totp_pending)
    step = mfa.matching_step(secret=secret, code=code, last_step=0)
    if step is None:
        raise AccountError(
            "bad_otp", "確認コードが正しくありません。認証アプリに表示されている 6 桁を入力してください。"
        )
    codes, hashes = mfa.new_recovery_codes()
    user.totp_secret, user.totp_pending = user.totp_pending, None
    user.totp_last_step = step
    user.recovery_codes = hashes
    raw = _rotate_own_session(db, settings=settings, user=user, stage=STAGE_FULL, action="auth.mfa_enrolled")
    return codes, raw


# ---- admin actions (the caller has checked the target is inside the admin's subtree) ------------


def admin_reset_password(db: Session, *, actor_id: int, user: User) -> str:
    """A one-time temporary password; the user must change it at the next login."""
    temporary = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    db.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=utcnow()))
    user.password_hash = hash_password(temporary)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    end_user_sessions(db, user_id=user.id)
    _audit_admin(db, "user.password_reset", actor_id=actor_id, user=user)
    return temporary


def admin_set_active(db: Session, *, actor_id: int, user: User, active: bool) -> None:
    user.is_active = active
    if not active:
        end_user_sessions(db, user_id=user.id)
    _audit_admin(db, "user.enabled" if active else "user.disabled", actor_id=actor_id, user=user)


def admin_unlock(db: Session, *, actor_id: int, user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
    _audit_admin(db, "user.unlocked", actor_id=actor_id, user=user)


def admin_reset_mfa(db: Session, *, actor_id: int, user: User) -> None:
    """Remove the user's authenticator; if MFA is required for the role, the next login enrols again."""
    user.totp_secret = None
    user.totp_pending = None
    user.totp_last_step = 0
    user.recovery_codes = []
    end_user_sessions(db, user_id=user.id)
    _audit_admin(db, "user.mfa_reset", actor_id=actor_id, user=user)


def _audit_admin(db: Session, action: str, *, actor_id: int, user: User) -> None:
    record_audit_event(
        db,
        action=action,
        org_id=user.org_id,
        user_id=actor_id,
        object_type="user",
        object_id=str(user.id),
        detail={"username": user.username},
    )
