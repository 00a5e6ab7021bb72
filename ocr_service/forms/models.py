"""Form definition versions as stored: layout JSON plus the template PDF in the blob store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, OrgScoped, TimestampMixin, new_id


class FormDefinition(OrgScoped, TimestampMixin, Base):
    """One immutable version of one form layout of one organisation."""

    __tablename__ = "form_definitions"
    __table_args__ = (
        UniqueConstraint("org_id", "code", "version", name="uq_form_definitions_org_code_version"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="published")
    layout: Mapped[dict[str, Any]] = mapped_column()
    template_blob_key: Mapped[str] = mapped_column(String(80))
    template_sha256: Mapped[str] = mapped_column(String(64))
    layout_sha256: Mapped[str] = mapped_column(String(64))
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    """Documents of this form open only from 個人情報系 networks (see auth/network.py)."""


class FormDraft(OrgScoped, TimestampMixin, Base):
    """A layout being edited in the 様式エディタ: its template, the proposals, the fields accepted so far.

    Drafts are working copies; publishing one creates a new immutable :class:`FormDefinition` version.
    """

    __tablename__ = "form_drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    template_blob_key: Mapped[str] = mapped_column(String(80))
    template_sha256: Mapped[str] = mapped_column(String(64))
    layout: Mapped[dict[str, Any]] = mapped_column()
    """The editor's layout (product schema, always valid when saved), fields accepted so far."""
    proposals: Mapped[dict[str, Any]] = mapped_column()
    """``{"fields": [...]}``: proposals not yet accepted or rejected, in the layout's field shape."""
    created_by: Mapped[int | None] = mapped_column(default=None)
