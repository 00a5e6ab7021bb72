"""Per-organisation replacement table for characters a legacy encoding cannot hold."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, OrgScoped, TimestampMixin


class CharMapping(OrgScoped, TimestampMixin, Base):
    """``source`` (e.g. 𠮷) is written as ``replacement`` (e.g. 吉) when the profile's policy is replace."""

    __tablename__ = "char_mappings"
    __table_args__ = (UniqueConstraint("org_id", "source", name="uq_char_mappings_org_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(8))
    replacement: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
