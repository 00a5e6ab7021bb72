"""Accounts, API tokens and server-side login sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, OrgScoped, TimestampMixin, utcnow

ROLES = ("operator", "reviewer", "admin", "sysadmin")
"""operator: scans and uploads; reviewer: also verifies and exports; admin: also manages forms, users,
tokens and policies of its organisation subtree; sysadmin (システム管理者): also manages organisations."""
ROLE_LABELS = {"operator": "スキャン担当", "reviewer": "確認担当", "admin": "管理者", "sysadmin": "システム管理者"}


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


class ApiToken(OrgScoped, TimestampMixin, Base):
    """A bearer token for a machine (the scanner bridge); only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class LoginSession(TimestampMixin, Base):
    """Server-side session behind the cookie; the cookie holds a random id whose hash is stored."""

    __tablename__ = "login_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
