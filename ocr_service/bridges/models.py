"""Scanner bridges as the service sees them: the last heartbeat of each, per organisation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, OrgScoped, TimestampMixin, new_id, utcnow


class Bridge(OrgScoped, TimestampMixin, Base):
    __tablename__ = "bridges"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_bridges_org_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    """The bridge's configured name (default: the scanner PC's host name); unique per organisation."""
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    """The machine account whose token sent the last heartbeat."""
    version: Mapped[str] = mapped_column(String(40), default="")
    hostname: Mapped[str] = mapped_column(String(255), default="")
    hot_folders: Mapped[list[str]] = mapped_column(JSON, default=list)
    queued: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
