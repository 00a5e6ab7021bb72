"""Per-organisation replacement table for characters a legacy encoding cannot hold; past exports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, OrgScoped, TimestampMixin, new_id


class CharMapping(OrgScoped, TimestampMixin, Base):
    """``source`` (e.g. 𠮷) is written as ``replacement`` (e.g. 吉) when the profile's policy is replace."""

    __tablename__ = "char_mappings"
    __table_args__ = (UniqueConstraint("org_id", "source", name="uq_char_mappings_org_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(8))
    replacement: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class ExportRecord(OrgScoped, TimestampMixin, Base):
    """A CSV file as it was handed out, kept (encrypted in the blob store) to be downloaded again."""

    __tablename__ = "exports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    form_code: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(80))
    blob_key: Mapped[str | None] = mapped_column(String(80), default=None)
    """None once retention removed the file (the record stays as evidence)."""
    rows: Mapped[int] = mapped_column()
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Encoding, options and the exported document ids."""
