"""API shapes for documents, pages and field results."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, model_validator

from ocr_service.documents.batches import BatchView
from ocr_service.documents.status import status_label


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
    batch_id: str | None = None
    page_from: int | None = None
    page_to: int | None = None
    status_label: str = ""

    @model_validator(mode="after")
    def _label(self) -> DocumentOut:
        self.status_label = status_label(self.status)
        return self


class UploadOut(DocumentOut):
    batch_id: str | None = None
    """The upload's batch record (issue 10) once documents carry one; the scanner bridge journals it."""
    duplicate: bool = False
    """The file (same SHA-256) was already uploaded within the retention period: this is that document."""


class DocumentDetailOut(DocumentOut):
    pages: list[PageOut]
    fields: list[FieldResultOut]


class BatchDocumentOut(BaseModel):
    """A document as the uploader sees it: where in the scan, what became of it, never field values."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    form_id: str | None
    page_from: int | None
    page_to: int | None
    status: str
    failure_reason: str | None
    resolution_note: str | None = None
    status_label: str = ""

    @model_validator(mode="after")
    def _label(self) -> BatchDocumentOut:
        self.status_label = status_label(self.status)
        return self


class BatchOut(BaseModel):
    id: str
    original_filename: str
    page_count: int
    form_id: str | None
    created_at: datetime
    documents: list[BatchDocumentOut]

    @classmethod
    def of(cls, view: BatchView) -> BatchOut:
        batch = view.batch
        return cls(
            id=batch.id,
            # Names are sealed per document; the batch shows its first document's (opened) name.
            original_filename=view.documents[0].original_filename if view.documents else "",
            page_count=batch.page_count,
            form_id=batch.form_id,
            created_at=batch.created_at,
            documents=[BatchDocumentOut.model_validate(d) for d in view.documents],
        )
