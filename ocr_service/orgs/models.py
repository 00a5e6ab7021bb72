"""Organisations: a tree of departments (部署) and groups (グループ)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, TimestampMixin


class Organisation(TimestampMixin, Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), default=None)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="department")
    """``department`` (部署) or ``group`` (グループ)."""
    retention_days: Mapped[int | None] = mapped_column(default=None)
    """This organisation's retention period in days; None follows OCR_RETENTION_DAYS."""
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Overrides of the installation's account policy for this organisation and its subtree
    (keys of :class:`ocr_service.auth.policy.AccountPolicy`)."""
