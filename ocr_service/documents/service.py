"""Documents: upload, look-up and the files behind them. Every query runs in the session's org scope."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal
from ocr_service.db.base import new_id, utcnow
from ocr_service.documents.images import image_format, image_to_pdf
from ocr_service.documents.models import Batch, Document, FieldResult, Page, UploadReceipt
from ocr_service.documents.pdfcheck import PdfRejectedError, inspect_pdf
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
    max_page_pixels: int = 60_000_000


@dataclass(frozen=True)
class UploadResult:
    document: Document
    duplicate: bool
    """True when this exact file (same SHA-256) was already uploaded within the retention
    period: ``document`` is then the first upload's document and nothing new was stored."""


class _ReceiptTakenError(Exception):
    """Another upload of the same file committed its receipt first."""


def _as_aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def find_recent_upload(db: Session, *, sha256: str, retention_days: int) -> Document | None:
    """The organisation's document for this file if it was uploaded within the retention period."""
    receipt = db.scalar(select(UploadReceipt).where(UploadReceipt.sha256 == sha256))
    if receipt is None or _as_aware(receipt.created_at) < utcnow() - timedelta(days=retention_days):
        return None
    document = db.get(Document, receipt.document_id)
    # A document someone deleted (様式不明 → 削除) no longer answers for its file.
    return None if document is None or document.status == DocumentStatus.DELETED else document


def _claim_receipt(
    db: Session, *, org_id: int, sha256: str, document_id: str, source: str | None, retention_days: int
) -> None:
    """Point the organisation's receipt for this file at the new document, or raise _ReceiptTakenError
    when another upload of the same file got there first (committed while this one was inspecting)."""
    receipt = db.scalar(select(UploadReceipt).where(UploadReceipt.sha256 == sha256))
    if receipt is None:
        try:
            with db.begin_nested():
                db.add(UploadReceipt(org_id=org_id, sha256=sha256, document_id=document_id, source=source))
        except IntegrityError as exc:
            raise _ReceiptTakenError from exc
        return
    if find_recent_upload(db, sha256=sha256, retention_days=retention_days) is not None:
        raise _ReceiptTakenError  # still answering for its file: never steal it
    # Expired (or its document deleted): re-point it, conditionally, so of two racing uploads one wins.
    moved = db.execute(
        update(UploadReceipt)
        .where(UploadReceipt.id == receipt.id, UploadReceipt.document_id == receipt.document_id)
        .values(document_id=document_id, source=source, created_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 0) != 1:
        raise _ReceiptTakenError


def as_pdf(data: bytes, *, limits: UploadLimits) -> bytes:
    """The upload itself when it is a PDF; scanner images (JPEG/PNG/TIFF) converted to one."""
    if image_format(data) is None:
        return data
    if len(data) > limits.max_bytes:
        raise PdfRejectedError(
            f"ファイルが大きすぎます（上限 {limits.max_bytes // (1024 * 1024)} MB）。", code="too_large"
        )
    return image_to_pdf(data, max_pages=limits.max_pages, max_page_pixels=limits.max_page_pixels)


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
    source: str | None = None,
    retention_days: int,
    store: BlobStore,
    enqueue: Enqueue,
    deadline: Deadline | None = None,
) -> UploadResult:
    """Check, store and register an uploaded PDF or scanner image, then queue it for recognition.

    ``source`` names the scanner bridge that sent the file (kept on the receipt and in the audit log).
    Idempotent: the same file (SHA-256) from the same organisation within ``retention_days``
    returns the first document, stores nothing and queues nothing. Either everything is kept
    (blob, row, receipt, audit event, queued task) or nothing: a failure after the blob was
    written deletes the blob again. With a ``deadline``, an upload whose inspection ran past its
    time budget is refused, and nothing is committed once the request has stopped waiting.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    existing = find_recent_upload(db, sha256=sha256, retention_days=retention_days)
    if existing is not None:
        return _duplicate(db, principal=principal, document=existing, filename=filename, source=source)
    pdf = as_pdf(data, limits=limits)
    page_count = inspect_pdf(pdf, max_bytes=limits.max_bytes, max_pages=limits.max_pages)
    if deadline is not None:
        deadline.check(stage="inspect")
    form = _resolve_form(db, form_code=form_code)
    # The document's own data key exists before any of its bytes are stored.
    document_id = new_id()
    blob_key = store.put(pdf, dek=create_document_key(db, document_id=document_id))
    try:
        # The batch keeps no file name: names are personal data, sealed per document.
        batch = Batch(
            org_id=principal.org_id,
            uploaded_by=principal.user_id,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            page_count=page_count,
            form_id=form.id if form is not None else None,
        )
        db.add(batch)
        db.flush()
        # The whole scan is one document until ingest splits it into its form instances.
        document = Document(
            id=document_id,
            batch_id=batch.id,
            page_from=1,
            page_to=page_count,
            org_id=principal.org_id,
            form_id=form.id if form is not None else None,
            uploaded_by=principal.user_id,
            original_filename_sealed=seal_document_name(
                db, document_id=document_id, name=_safe_display_name(filename)
            ),
            sha256=sha256,
            size_bytes=len(data),
            page_count=page_count,
            blob_key=blob_key,
            status=DocumentStatus.QUEUED,
        )
        db.add(document)
        db.flush()
        _claim_receipt(
            db,
            org_id=principal.org_id,
            sha256=sha256,
            document_id=document.id,
            source=source,
            retention_days=retention_days,
        )
        audit(
            db,
            principal,
            "document.upload",
            obj_type="document",
            obj_id=document.id,
            document_id=document.id,
            form_code=form.code if form is not None else "",
            detail={
                "batch": batch.id,
                "sha256": document.sha256,
                "pages": page_count,
                "form": f"{form.code}@v{form.version}" if form is not None else None,
                "source": source,
            },
        )
        if deadline is not None:
            deadline.check(stage="commit")
        db.commit()
    except _ReceiptTakenError:
        db.rollback()
        store.delete(blob_key)
        destroy_document_key(db, document_id=document_id)
        winner = find_recent_upload(db, sha256=sha256, retention_days=retention_days)
        if winner is None:  # pragma: no cover - the winner committed before we lost
            raise
        return _duplicate(db, principal=principal, document=winner, filename=filename, source=source)
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
    return UploadResult(document=document, duplicate=False)


def _duplicate(
    db: Session, *, principal: Principal, document: Document, filename: str | None, source: str | None
) -> UploadResult:
    audit(
        db,
        principal,
        "document.upload_duplicate",
        obj_type="document",
        obj_id=document.id,
        document_id=document.id,
        detail={"sha256": document.sha256, "source": source},  # no file name: names are sealed (issue 11)
    )
    db.commit()
    open_document_names(db, [document])
    return UploadResult(document=document, duplicate=True)


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


def values_withheld(document: Document, *, principal: Principal) -> bool:
    """While a document waits for its blind second entry, only the first reviewer may see its values."""
    return document.status == DocumentStatus.DOUBLE_ENTRY and document.confirmed_by != principal.user_id


def list_pages(db: Session, *, document_id: str) -> list[Page]:
    return list(db.scalars(select(Page).where(Page.document_id == document_id).order_by(Page.page_no)))


def list_field_results(db: Session, *, document_id: str) -> list[FieldResult]:
    return open_field_results(
        db, db.scalars(select(FieldResult).where(FieldResult.document_id == document_id))
    )


def read_page_image(
    db: Session, *, document_id: str, page_no: int, store: BlobStore, aligned: bool = False
) -> bytes:
    """The raw scan of a page, or with ``aligned`` its aligned image (the raw scan if it has none)."""
    get_document(db, document_id=document_id)  # an erased document answers 410, not 404
    page = db.scalar(select(Page).where(Page.document_id == document_id, Page.page_no == page_no))
    key = page and ((aligned and page.aligned_blob_key) or page.image_blob_key)
    if not key:
        raise DocumentNotFoundError(f"{document_id}/page/{page_no}")
    return store.get(key, dek=document_key(db, document_id=document_id))


def read_field_crop(db: Session, *, document_id: str, field_result_id: str, store: BlobStore) -> bytes:
    get_document(db, document_id=document_id)
    result = db.scalar(
        select(FieldResult).where(FieldResult.document_id == document_id, FieldResult.id == field_result_id)
    )
    if result is None or result.crop_blob_key is None:
        raise DocumentNotFoundError(f"{document_id}/field/{field_result_id}")
    return store.get(result.crop_blob_key, dek=document_key(db, document_id=document_id))
