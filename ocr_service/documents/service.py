"""Documents: upload, look-up and the files behind them. Every query runs in the session's org scope."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.service import record_audit_event
from ocr_service.auth.service import Principal
from ocr_service.db.base import new_id
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.documents.pdfcheck import inspect_pdf
from ocr_service.documents.sealing import open_document_names, open_field_results, seal_document_name
from ocr_service.documents.status import DocumentStatus
from ocr_service.forms.models import FormDefinition
from ocr_service.forms.service import FormNotFoundError, get_latest_form, list_latest_forms
from ocr_service.keys.service import create_document_key, destroy_document_key, document_key
from ocr_service.storage.blobs import BlobStore

logger = logging.getLogger(__name__)

Enqueue = Callable[[str], None]
"""Sends ``document_id`` to the ingest queue; called only after the upload committed."""


class DocumentNotFoundError(LookupError):
    """Missing or in another organisation: callers cannot tell which, by design."""


class DocumentErasedError(LookupError):
    """The document was erased (retention or manual deletion); only its tombstone remains."""

    def __init__(self, document_id: str, *, certificate_id: str | None, trigger: str = "retention") -> None:
        super().__init__(document_id)
        self.document_id = document_id
        self.certificate_id = certificate_id
        self.trigger = trigger


class UploadError(ValueError):
    """A refused upload: ``reason`` (Japanese) and the stable ``code`` go to the client as ``status``."""

    def __init__(self, reason: str, *, code: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status


class Deadline(Protocol):
    def check(self, *, stage: str) -> None:
        """Raise :class:`UploadError` when ``stage`` ("inspect" or "commit") is past its time."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    max_pages: int


def _safe_display_name(filename: str | None) -> str:
    # Kept only to show to staff; strip any path a client sent along.
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable())[:200] or "upload.pdf"


def _resolve_form(db: Session, *, form_code: str | None) -> FormDefinition | None:
    """The named form's latest version, or None: the worker then identifies every page on its own."""
    if form_code:
        try:
            return get_latest_form(db, code=form_code)
        except FormNotFoundError as exc:
            raise UploadError(f"様式 '{form_code}' は登録されていません。", code="unknown_form") from exc
    if not list_latest_forms(db):
        raise UploadError("この組織には様式が登録されていません。", code="no_forms")
    return None


def upload_document(
    db: Session,
    *,
    principal: Principal,
    data: bytes,
    filename: str | None,
    form_code: str | None,
    limits: UploadLimits,
    store: BlobStore,
    enqueue: Enqueue,
    deadline: Deadline | None = None,
) -> Document:
    """Check, store and register an uploaded PDF, then queue it for recognition.

    Either everything is kept (blob, row, audit event, queued task) or nothing:
    a failure after the blob was written deletes the blob again. With a ``deadline``,
    an upload whose inspection ran past its time budget is refused, and nothing is
    committed once the request has stopped waiting for the answer.
    """
    page_count = inspect_pdf(data, max_bytes=limits.max_bytes, max_pages=limits.max_pages)
    if deadline is not None:
        deadline.check(stage="inspect")
    form = _resolve_form(db, form_code=form_code)
    # The document's own data key exists before any of its bytes are stored.
    document_id = new_id()
    blob_key = store.put(data, dek=create_document_key(db, document_id=document_id))
    try:
        document = Document(
            id=document_id,
            org_id=principal.org_id,
            form_id=form.id if form is not None else None,
            uploaded_by=principal.user_id,
            original_filename_sealed=seal_document_name(
                db, document_id=document_id, name=_safe_display_name(filename)
            ),
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            page_count=page_count,
            blob_key=blob_key,
            status=DocumentStatus.QUEUED,
        )
        db.add(document)
        db.flush()
        record_audit_event(
            db,
            action="document.upload",
            org_id=principal.org_id,
            user_id=principal.user_id,
            object_type="document",
            object_id=document.id,
            detail={
                "sha256": document.sha256,
                "pages": page_count,
                "form": f"{form.code}@v{form.version}" if form is not None else None,
            },
        )
        if deadline is not None:
            deadline.check(stage="commit")
        db.commit()
    except BaseException:
        db.rollback()
        store.delete(blob_key)
        destroy_document_key(db, document_id=document_id)
        raise
    # After commit: a worker must never receive an id it cannot read yet. If sending fails,
    # the document stays queued and beat's sweep sends it again.
    open_document_names(db, [document])
    try:
        enqueue(document.id)
    except Exception:
        logger.exception("enqueue failed for document %s; beat will retry", document.id)
    return document


def get_document(db: Session, *, document_id: str) -> Document:
    """The document; DocumentErasedError (HTTP 410) if it was erased, else DocumentNotFoundError."""
    document = db.get(Document, document_id)
    if document is None:
        from ocr_service.retention.models import DocumentTombstone

        tombstone = db.get(DocumentTombstone, document_id)
        if tombstone is not None:
            raise DocumentErasedError(
                document_id, certificate_id=tombstone.certificate_id, trigger=tombstone.trigger
            )
        raise DocumentNotFoundError(document_id)
    open_document_names(db, [document])
    return document


def list_documents(
    db: Session, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[Document]:
    query = select(Document).order_by(Document.created_at).limit(limit).offset(offset)
    if status:
        query = query.where(Document.status == status)
    return open_document_names(db, db.scalars(query))


def list_pages(db: Session, *, document_id: str) -> list[Page]:
    return list(db.scalars(select(Page).where(Page.document_id == document_id).order_by(Page.page_no)))


def list_field_results(db: Session, *, document_id: str) -> list[FieldResult]:
    return open_field_results(
        db, db.scalars(select(FieldResult).where(FieldResult.document_id == document_id))
    )


def read_page_image(db: Session, *, document_id: str, page_no: int, store: BlobStore) -> bytes:
    get_document(db, document_id=document_id)  # an erased document answers 410, not 404
    page = db.scalar(select(Page).where(Page.document_id == document_id, Page.page_no == page_no))
    if page is None or page.image_blob_key is None:
        raise DocumentNotFoundError(f"{document_id}/page/{page_no}")
    return store.get(page.image_blob_key, dek=document_key(db, document_id=document_id))


def read_field_crop(db: Session, *, document_id: str, field_result_id: str, store: BlobStore) -> bytes:
    get_document(db, document_id=document_id)
    result = db.scalar(
        select(FieldResult).where(FieldResult.document_id == document_id, FieldResult.id == field_result_id)
    )
    if result is None or result.crop_blob_key is None:
        raise DocumentNotFoundError(f"{document_id}/field/{field_result_id}")
    return store.get(result.crop_blob_key, dek=document_key(db, document_id=document_id))
