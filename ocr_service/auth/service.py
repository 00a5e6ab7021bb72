"""Passwords (argon2id), login sessions and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ocr_service.auth.models import RANKED_ROLES, ApiToken, LoginSession, User
from ocr_service.db.base import utcnow
from ocr_service.db.scoping import SYSTEM_SCOPE, get_scope, set_scope

# argon2id with the library's RFC 9106 low-memory profile defaults.
_hasher = PasswordHasher()
_TOKEN_PREFIX = "ocrt_"
# Verified against when the username is unknown, so timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
# last_seen_at is written at most this often, so reading a page does not mean a write every time.
_TOUCH_EVERY = timedelta(seconds=60)

STAGE_FULL = "full"
STAGE_PASSWORD = "password_change"
STAGE_MFA_ENROL = "mfa_enrol"


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved once per request by the auth dependency."""

    user_id: int
    org_id: int
    role: str
    username: str

    def has_role(self, minimum: str) -> bool:
        return role_allows(self.role, minimum)


def role_allows(role: str, minimum: str) -> bool:
    """Ranked roles include the ones below; the auditor stands apart (only admins and system
    administrators share its screens)."""
    if minimum == "any":
        return True
    if minimum == "auditor":
        return role in ("auditor", "admin", "sysadmin")
    if role not in RANKED_ROLES or minimum not in RANKED_ROLES:
        return False
    return RANKED_ROLES.index(role) >= RANKED_ROLES.index(minimum)


@dataclass(frozen=True)
class SessionInfo:
    principal: Principal
    stage: str
    session_id_sha256: str


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Constant work whether or not the user exists; rehashes an outdated hash."""
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return True


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, org_id=user.org_id, role=user.role, username=user.username)


def as_aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def create_login_session(db: Session, *, user_id: int, ttl: timedelta, stage: str = STAGE_FULL) -> str:
    """Store a new session and return the raw cookie value (only its hash is kept)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(
        LoginSession(
            id_sha256=sha256_hex(raw), user_id=user_id, expires_at=now + ttl, last_seen_at=now, stage=stage
        )
    )
    return raw


def end_login_session(db: Session, *, raw_session_id: str) -> None:
    db.execute(delete(LoginSession).where(LoginSession.id_sha256 == sha256_hex(raw_session_id)))


def end_user_sessions(db: Session, *, user_id: int) -> int:
    """End every session of a user (second login, password change, disable, admin reset)."""
    result = db.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def resolve_login_session(
    db: Session, *, raw_session_id: str, idle: timedelta, now: datetime | None = None
) -> SessionInfo | None:
    """The session's user and stage, or None when it is unknown, idle too long or past its lifetime
    (an ended session is deleted, so it cannot come back)."""
    now = now or utcnow()
    row = db.get(LoginSession, sha256_hex(raw_session_id))
    if row is None:
        return None
    if as_aware(row.expires_at) <= now or as_aware(row.last_seen_at) + idle <= now:
        db.delete(row)
        db.commit()
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if now - as_aware(row.last_seen_at) >= _TOUCH_EVERY:
        row.last_seen_at = now
        db.commit()
    return SessionInfo(principal=principal_of(user), stage=row.stage, session_id_sha256=row.id_sha256)


def create_api_token(db: Session, *, user: User, name: str, expires_at: datetime | None = None) -> str:
    """Issue a bearer token for a machine account; returns the raw token once."""
    raw = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(
        ApiToken(
            org_id=user.org_id,
            user_id=user.id,
            name=name,
            token_sha256=sha256_hex(raw),
            expires_at=expires_at,
        )
    )
    return raw


def resolve_api_token(db: Session, *, raw_token: str) -> Principal | None:
    if not raw_token.startswith(_TOKEN_PREFIX):
        return None
    # Token lookup happens before we know the org, so it runs with system scope and restores it.
    previous = get_scope(db)
    set_scope(db, SYSTEM_SCOPE)
    try:
        token = db.scalar(select(ApiToken).where(ApiToken.token_sha256 == sha256_hex(raw_token)))
        if token is None or token.revoked_at is not None:
            return None
        if token.expires_at is not None and as_aware(token.expires_at) <= utcnow():
            return None
        user = db.get(User, token.user_id)
        if user is None or not user.is_active:
            return None
        token.last_used_at = utcnow()
        db.flush()  # while still in system scope; the caller commits
        return principal_of(user)
    finally:
        if previous is None:
            db.info.pop("org_scope", None)
        else:
            set_scope(db, previous)
