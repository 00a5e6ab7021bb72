"""Audit events: who did what to which object, and when, in one hash chain.

Each event carries its position in the chain (``seq``, 1, 2, 3, … without gaps), the
previous event's hash and its own SHA-256 over a canonical form of its content (see
:mod:`ocr_service.audit.chain`). ``audit_chain_head`` is a single row holding the last
``seq`` and hash: appending updates it first, which serialises writers on PostgreSQL
(row lock until commit) and on SQLite (the write lock), so two appends never share a ``seq``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, TimestampMixin

GENESIS_HASH = "0" * 64


class AuditEvent(TimestampMixin, Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Nullable: a failed login for an unknown user belongs to no organisation.
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True, default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True, default=None)
    actor: Mapped[str] = mapped_column(String(120), default="")
    """Who, in words that survive the account: the username, ``cli:<OS user>`` or ``system``."""
    action: Mapped[str] = mapped_column(String(50), index=True)
    object_type: Mapped[str] = mapped_column(String(50), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="")
    document_id: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    form_code: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AuditChainHead(Base):
    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
