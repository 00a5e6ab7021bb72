"""API shapes for documents, pages and field results."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class FieldResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    page_id: str
    field_name: str
    value: str
    confidence: float
    char_confidences: list[float]
    status: str
    reason: str | None
    version: int


class PageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    page_no: int
    layout_page: int
    form_id: str | None
    identify_score: float | None
    status: str
    reason: str | None
    inliers: int
    residual_px: float | None


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    form_id: str | None
    original_filename: str
    sha256: str
    size_bytes: int
    page_count: int
    status: str
    failure_reason: str | None
    created_at: datetime
    processed_at: datetime | None


class UploadOut(DocumentOut):
    batch_id: str | None = None
    """The upload's batch record (issue 10) once documents carry one; the scanner bridge journals it."""
    duplicate: bool = False
    """The file (same SHA-256) was already uploaded within the retention period: this is that document."""


class DocumentDetailOut(DocumentOut):
    pages: list[PageOut]
    fields: list[FieldResultOut]
