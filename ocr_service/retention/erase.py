"""Erasing one document: data key first (cryptographic erase), then ciphertext, then rows.

Idempotent: a run that crashed half-way finds the key already gone and finishes the rest.
What the certificate says was verified is checked here, after the erase, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.documents.status import DocumentStatus, transition_document
from ocr_service.forms.models import FormDefinition
from ocr_service.keys.service import destroy_document_key, keys_of
from ocr_service.retention.models import DocumentTombstone
from ocr_service.review.models import BlindEntry
from ocr_service.review.service import as_aware
from ocr_service.storage.blobs import BlobStore


@dataclass(frozen=True)
class Verification:
    key_absent: bool
    blobs_checked: int
    blobs_absent: bool
    text_rows_remaining: int
    document_row_absent: bool

    @property
    def passed(self) -> bool:
        return (
            self.key_absent
            and self.blobs_absent
            and self.text_rows_remaining == 0
            and self.document_row_absent
        )

    def as_json(self) -> dict[str, object]:
        return {
            "key_absent": self.key_absent,
            "blobs_checked": self.blobs_checked,
            "blobs_absent": self.blobs_absent,
            "text_rows_remaining": self.text_rows_remaining,
            "document_row_absent": self.document_row_absent,
        }


@dataclass(frozen=True)
class ErasedDocument:
    tombstone: DocumentTombstone
    verification: Verification


class AlreadyErasingError(RuntimeError):
    """Another process is erasing this document right now (it holds the status transition)."""


def _form_of(db: Session, document: Document) -> tuple[str, int | None]:
    form_id = document.form_id or db.scalar(
        select(Page.form_id).where(Page.document_id == document.id, Page.form_id.is_not(None)).limit(1)
    )
    form = db.get(FormDefinition, form_id) if form_id else None
    return (form.code, form.version) if form is not None else ("", None)


def _blob_keys(db: Session, document: Document) -> list[str]:
    keys = [document.blob_key]
    keys += [k for k in db.scalars(select(Page.image_blob_key).where(Page.document_id == document.id)) if k]
    keys += [
        k
        for k in db.scalars(select(FieldResult.crop_blob_key).where(FieldResult.document_id == document.id))
        if k
    ]
    return keys


def _text_rows(db: Session, document_id: str) -> int:
    total = 0
    for model in (FieldResult, BlindEntry, Page):
        total += int(
            db.scalar(select(func.count()).select_from(model).where(model.document_id == document_id)) or 0
        )
    return total


def verify_erased_by_scan(db: Session, *, document_id: str, store: BlobStore) -> Verification:
    """The post-erase check for a document whose blob keys are no longer known (an erase that
    crashed before its certificate): every stored blob's header is read for this owner."""
    remaining = [k for k in store.iter_keys() if store.owner_of(k) == document_id]
    for key in remaining:
        store.delete(key)
    return Verification(
        key_absent=not keys_of(db).exists(document_id),
        blobs_checked=len(remaining),
        blobs_absent=not any(store.exists(k) for k in remaining),
        text_rows_remaining=_text_rows(db, document_id),
        document_row_absent=db.scalar(
            select(func.count()).select_from(Document).where(Document.id == document_id)
        )
        == 0,
    )


def erase_document(
    db: Session, *, document: Document, store: BlobStore, trigger: str, certificate_id: str, now: datetime
) -> ErasedDocument:
    """Erase ``document`` and leave its tombstone in the session (the caller commits with the certificate)."""
    # The status transition is the claim (a conditional UPDATE that also row-locks the document
    # until commit): of two concurrent erases, or an erase and a confirm, exactly one proceeds.
    if not transition_document(
        db,
        document_id=document.id,
        from_statuses=[s for s in DocumentStatus if s != DocumentStatus.DELETED],
        to_status=DocumentStatus.DELETED,
    ):
        raise AlreadyErasingError(document.id)
    form_code, form_version = _form_of(db, document)
    blob_keys = _blob_keys(db, document)
    # 1. Cryptographic erase: without the data key every blob, value and sealed audit detail of
    #    this document is unreadable, here and in any backup of the database or the blob folder.
    destroy_document_key(db, document_id=document.id)
    # 2. The ciphertext itself.
    for key in blob_keys:
        store.delete(key)
    # 3. The rows (explicitly, not trusting ON DELETE CASCADE on every backend).
    for model in (BlindEntry, FieldResult, Page):
        db.execute(
            delete(model).where(model.document_id == document.id).execution_options(synchronize_session=False)
        )
    tombstone = DocumentTombstone(
        document_id=document.id,
        org_id=document.org_id,
        form_code=form_code,
        form_version=form_version,
        page_count=document.page_count,
        sha256=document.sha256,
        uploaded_at=as_aware(document.created_at),
        exported_at=as_aware(document.exported_at) if document.exported_at else None,
        deleted_at=now,
        trigger=trigger,
        certificate_id=certificate_id,
    )
    db.execute(
        delete(Document).where(Document.id == document.id).execution_options(synchronize_session=False)
    )
    db.expunge(document)
    db.add(tombstone)
    db.flush()
    verification = Verification(
        key_absent=not keys_of(db).exists(document.id),
        blobs_checked=len(blob_keys),
        blobs_absent=not any(store.exists(k) for k in blob_keys),
        text_rows_remaining=_text_rows(db, document.id),
        document_row_absent=db.scalar(
            select(func.count()).select_from(Document).where(Document.id == document.id)
        )
        == 0,
    )
    return ErasedDocument(tombstone=tombstone, verification=verification)
