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


class AuthError(Exception):
    """Login failed; the message is safe to show (it never says which part was wrong)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved once per request by the auth dependency."""

    user_id: int
    org_id: int
    role: str
    username: str

    def has_role(self, minimum: str) -> bool:
        """Ranked roles include the ones below; the auditor stands apart (only admins share its screens)."""
        if minimum == "any":
            return True
        if minimum == "auditor":
            return self.role in ("auditor", "admin")
        if self.role not in RANKED_ROLES:
            return False
        return RANKED_ROLES.index(self.role) >= RANKED_ROLES.index(minimum)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _principal(user: User) -> Principal:
    return Principal(user_id=user.id, org_id=user.org_id, role=user.role, username=user.username)


def authenticate_password(db: Session, *, username: str, password: str) -> Principal:
    user = db.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError) as exc:
        raise AuthError("ユーザー名またはパスワードが正しくありません") from exc
    if user is None or not user.is_active:
        raise AuthError("ユーザー名またはパスワードが正しくありません")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return _principal(user)


def org_of_username(db: Session, *, username: str) -> int | None:
    user = db.scalar(select(User).where(User.username == username))
    return user.org_id if user is not None else None


def create_login_session(db: Session, *, user_id: int, ttl: timedelta) -> str:
    """Store a new session and return the raw cookie value (only its hash is kept)."""
    raw = secrets.token_urlsafe(32)
    db.add(LoginSession(id_sha256=_sha256(raw), user_id=user_id, expires_at=utcnow() + ttl))
    return raw


def end_login_session(db: Session, *, raw_session_id: str) -> None:
    db.execute(delete(LoginSession).where(LoginSession.id_sha256 == _sha256(raw_session_id)))


def _as_aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def resolve_login_session(db: Session, *, raw_session_id: str) -> Principal | None:
    row = db.get(LoginSession, _sha256(raw_session_id))
    if row is None or _as_aware(row.expires_at) <= utcnow():
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return _principal(user)


def create_api_token(db: Session, *, user: User, name: str) -> str:
    """Issue a bearer token for a machine account; returns the raw token once."""
    raw = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(org_id=user.org_id, user_id=user.id, name=name, token_sha256=_sha256(raw)))
    return raw


def resolve_api_token(db: Session, *, raw_token: str) -> Principal | None:
    if not raw_token.startswith(_TOKEN_PREFIX):
        return None
    # Token lookup happens before we know the org, so it runs with system scope and restores it.
    previous = get_scope(db)
    set_scope(db, SYSTEM_SCOPE)
    try:
        token = db.scalar(select(ApiToken).where(ApiToken.token_sha256 == _sha256(raw_token)))
        if token is None or token.revoked_at is not None:
            return None
        user = db.get(User, token.user_id)
        if user is None or not user.is_active:
            return None
        token.last_used_at = utcnow()
        db.flush()  # while still in system scope; the caller commits
        return _principal(user)
    finally:
        if previous is None:
            db.info.pop("org_scope", None)
        else:
            set_scope(db, previous)
