"""Accounts, API tokens, server-side login sessions, password history and login failures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, OrgScoped, TimestampMixin, utcnow

RANKED_ROLES = ("operator", "reviewer", "admin", "sysadmin")
"""operator: scans and uploads; reviewer: also verifies and exports; admin: also manages forms, users,
tokens and policies of its organisation subtree; sysadmin (システム管理者): also manages organisations."""
ROLES = (*RANKED_ROLES, "auditor")
"""auditor (監査担当): reads the audit log and the usage report, nothing else (no documents)."""
ROLE_LABELS = {
    "operator": "スキャン担当",
    "reviewer": "確認担当",
    "admin": "管理者",
    "sysadmin": "システム管理者",
    "auditor": "監査担当",
}


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="reviewer")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    """Set for a new account and after an admin reset: the next login goes to the change screen."""
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    totp_secret: Mapped[str | None] = mapped_column(String(255), default=None)
    """AES-GCM encrypted base32 secret (auth/mfa.py); None until enrolment completes."""
    totp_pending: Mapped[str | None] = mapped_column(String(255), default=None)
    """Encrypted secret shown during enrolment, moved to ``totp_secret`` once a code checks out."""
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    """Last accepted TOTP time step: a code is accepted once (no replay within its 30 s window)."""
    recovery_codes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """SHA-256 of the unused one-time recovery codes."""


class PasswordHistory(TimestampMixin, Base):
    """Earlier password hashes, so a change cannot go back to one of the last N."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))


class LoginFailure(TimestampMixin, Base):
    """One refused login, kept briefly for per-address throttling (usernames are not needed for it)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_ip: Mapped[str] = mapped_column(String(64), index=True)


class ApiToken(OrgScoped, TimestampMixin, Base):
    """A bearer token for a machine (the scanner bridge); only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class LoginSession(TimestampMixin, Base):
    """Server-side session behind the cookie; the cookie holds a random id whose hash is stored."""

    __tablename__ = "login_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """Absolute end of the session, however active it is."""
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    """For the idle timeout."""
    stage: Mapped[str] = mapped_column(String(20), default="full")
    """``full``, or a restricted stage that only reaches the account screens:
    ``password_change`` (first login, reset, expiry) or ``mfa_enrol``."""
