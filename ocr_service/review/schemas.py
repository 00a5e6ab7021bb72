"""API shapes for the review workflow."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from ocr_service.review.queue import QueueFilter


class FieldEditIn(BaseModel):
    value: str = Field(max_length=2000)
    version: int = Field(ge=1, description="The version the reviewer saw; a stale one gets 409")


class ConfirmIn(BaseModel):
    bulk: bool = Field(
        default=False, description="一括確定: confirm with flagged fields unseen (admin, audited)"
    )


class AssignFormIn(BaseModel):
    form_code: str = Field(min_length=1, max_length=64)


class ReasonIn(BaseModel):
    reason: str = Field(default="", max_length=500)


class FieldEditOut(BaseModel):
    id: str
    field_name: str
    value: str
    version: int
    reason: str | None


class DocumentStatusOut(BaseModel):
    id: str
    status: str
    status_label: str
    next_url: str | None = None
    """Where the review screen goes next: the next document needing review, else the queue."""
    certificate_id: str | None = None
    """Set when the action erased the document: its deletion certificate."""


class QueueItemOut(BaseModel):
    id: str
    form_code: str
    form_title: str
    status: str
    status_label: str
    group: str
    days_left: int
    original_filename: str
    batch_id: str | None = None
    page_from: int | None = None
    page_to: int | None = None
    claimed_by_other: bool = False


class QueueFilterIn(BaseModel):
    """Query parameters of the queue (API and screen)."""

    form: str | None = Field(default=None, max_length=64)
    group: str | None = Field(default=None, max_length=10)
    date_from: date | None = None
    date_to: date | None = None
    batch: str | None = Field(default=None, max_length=32)
    q: str | None = Field(default=None, max_length=100)
    page: int = Field(default=1, ge=1, le=100000)

    def to_filter(self) -> QueueFilter:
        return QueueFilter(
            form_code=self.form or None,
            group=self.group or None,
            uploaded_from=self.date_from,
            uploaded_to=self.date_to,
            batch_id=self.batch or None,
            filename=self.q or None,
            page=self.page,
        )


class BlindFieldOut(BaseModel):
    id: str
    field_name: str
    label: str
    type: str


class ValuesIn(BaseModel):
    values: dict[str, str] = Field(description="field result id → value")


class DisagreementOut(BaseModel):
    id: str
    field_name: str
    label: str
    first_value: str
    blind_value: str
