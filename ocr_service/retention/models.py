"""What remains of an erased document (a tombstone) and the signed deletion certificates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, OrgScoped, new_id


class DocumentTombstone(OrgScoped, Base):
    """No personal data: ids, form, counts, the upload's hash and the times."""

    __tablename__ = "document_tombstones"

    document_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    form_code: Mapped[str] = mapped_column(String(64), default="")
    form_version: Mapped[int | None] = mapped_column(Integer, default=None)
    page_count: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the uploaded file: proves which file was erased without keeping any of it."""
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    exported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    trigger: Mapped[str] = mapped_column(String(20))
    """``retention`` (the scheduled job or ``retention run``) or ``manual`` (staff, with a reason)."""
    certificate_id: Mapped[str] = mapped_column(String(32), index=True)


class DeletionCertificate(OrgScoped, Base):
    """One signed certificate per organisation per run (and per manual deletion)."""

    __tablename__ = "deletion_certificates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    trigger: Mapped[str] = mapped_column(String(20))
    document_count: Mapped[int] = mapped_column()
    document_json: Mapped[str] = mapped_column(Text)
    """The signed file exactly as downloaded (certificate body, signature, public key)."""
