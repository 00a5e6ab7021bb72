"""API shapes for the review workflow."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FieldEditIn(BaseModel):
    value: str = Field(max_length=2000)
    version: int = Field(ge=1, description="The version the reviewer saw; a stale one gets 409")


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


class QueueItemOut(BaseModel):
    id: str
    form_code: str
    form_title: str
    status: str
    status_label: str
    group: str
    days_left: int
    original_filename: str


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
