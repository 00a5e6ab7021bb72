"""Uploaded documents, their pages and the recognised field results."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ocr_service.db.base import Base, OrgScoped, TimestampMixin, new_id, opened_plain, utcnow
from ocr_service.documents.status import DocumentStatus


class Batch(OrgScoped, TimestampMixin, Base):
    """One upload as the scanner produced it: a PDF that may hold many filled-in forms.

    Ingest splits it into documents (one per form instance, or per unidentified page);
    every document of the batch points back here with the page range it came from, so
    the batch record accounts for every page of the scan.
    """

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # No file name here: a name can name a person, so it is sealed on each document with its key.
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column()
    page_count: Mapped[int] = mapped_column()
    form_id: Mapped[str | None] = mapped_column(ForeignKey("form_definitions.id"), default=None)


class Document(OrgScoped, TimestampMixin, Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    form_id: Mapped[str | None] = mapped_column(ForeignKey("form_definitions.id"), default=None)
    """The form version named at upload; None when every page is identified on its own
    (each page then records its version in ``pages.form_id``)."""
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    original_filename_sealed: Mapped[str] = mapped_column("original_filename", Text, default="")
    """Display only, sealed (a file name can name a person); the file is stored under ``blob_key``,
    never under this name. Read ``original_filename`` after ``open_document_names``."""
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column()
    page_count: Mapped[int] = mapped_column()
    blob_key: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.QUEUED.value, index=True)
    """A :class:`DocumentStatus`; changed only through :func:`transition_document`."""
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)
    """Random per claim (migration 0009): whose lease it is, so only the holder renews or finishes it."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Review workflow (migration 0002): who confirmed (the first reviewer under double entry) and when.
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    exported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Batches (migration 0004): where in the uploaded scan this form instance was.
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"), default=None, index=True)
    page_from: Mapped[int | None] = mapped_column(default=None)
    """First page of the batch PDF in this document (1-based); pages keep their batch numbers."""
    page_to: Mapped[int | None] = mapped_column(default=None)
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)
    """Why a person excluded (対象外) or deleted a 様式不明 document."""
    # Soft claim of 次の文書: one reviewer at a time until it expires.
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    claim_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    @property
    def original_filename(self) -> str:
        return opened_plain(self, "original_filename_sealed")


class Page(OrgScoped, Base):
    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("document_id", "page_no", name="uq_pages_document_page"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    page_no: Mapped[int] = mapped_column()
    layout_page: Mapped[int] = mapped_column(default=1)
    form_id: Mapped[str | None] = mapped_column(ForeignKey("form_definitions.id"), default=None, index=True)
    """The exact form version this page was read with (None: not read, blank or unidentified)."""
    identify_score: Mapped[float | None] = mapped_column(Float, default=None)
    """Identification score in [0, 1] when the upload named no form (None when it did)."""
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending → ok | unaligned | blank | unidentified | failed."""
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    image_blob_key: Mapped[str | None] = mapped_column(String(80), default=None)
    aligned_blob_key: Mapped[str | None] = mapped_column(String(80), default=None)
    """The page upright and warped onto its template: what the pipeline read, boxes sit on it."""
    inliers: Mapped[int] = mapped_column(default=0)
    residual_px: Mapped[float | None] = mapped_column(Float, default=None)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class FieldResult(OrgScoped, Base):
    __tablename__ = "field_results"
    __table_args__ = (UniqueConstraint("page_id", "field_name", name="uq_field_results_page_field"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    page_id: Mapped[str] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    field_name: Mapped[str] = mapped_column(String(64))
    value_sealed: Mapped[str] = mapped_column("value", Text, default="")
    """The value sealed with the document's data key (documents/sealing.py); read ``value`` after
    :func:`~ocr_service.documents.sealing.open_field_results`. Checkboxes hold ``"1"``/``"0"``."""
    read_value_sealed: Mapped[str | None] = mapped_column("read_value", Text, default=None)
    """What the machine read, sealed like ``value`` (set once by the worker; None for rows read
    before review outcomes existed): confirming compares it with ``value`` for the outcome record."""
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    char_confidences: Mapped[list[float]] = mapped_column(default=list)
    crop_blob_key: Mapped[str | None] = mapped_column(String(80), default=None)
    status: Mapped[str] = mapped_column(String(20), default="ok")
    reason_sealed: Mapped[str | None] = mapped_column("reason", Text, default=None)
    """Why the field needs a look, sealed like the value (a check's message can quote the value)."""
    version: Mapped[int] = mapped_column(default=1)
    """Optimistic-locking counter for reviewer edits."""
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def value(self) -> str:
        """The plain value, once opened in this session (never stored: only ``value_sealed`` is)."""
        return opened_plain(self, "value_sealed")

    @property
    def reason(self) -> str | None:
        return None if self.reason_sealed is None else opened_plain(self, "reason_sealed")


class UploadReceipt(OrgScoped, TimestampMixin, Base):
    """The document made from the first upload of a file (by SHA-256) in an organisation.

    Makes uploads idempotent: the bridge re-sends a file whose answer it never saw (kill -9,
    network cut) and gets the first document back instead of a duplicate. The unique key is
    what settles two uploads of the same file racing each other. ``created_at`` is when the
    receipt last pointed at a new document; after the retention period the file counts as new.
    """

    __tablename__ = "upload_receipts"
    __table_args__ = (UniqueConstraint("org_id", "sha256", name="uq_upload_receipts_org_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    source: Mapped[str | None] = mapped_column(String(100), default=None)
    """The scanner bridge that sent the file (its configured name); None for browser uploads."""
