"""A person's decision about a 様式不明 document: read it as a given form, mark it 対象外, or delete it.

Nothing a scan contained may vanish without such a decision; every one is audited with
the pages it concerns.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal
from ocr_service.config import Settings
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.documents.service import Enqueue, get_document
from ocr_service.documents.status import DocumentStatus, transition_document
from ocr_service.forms.service import FormNotFoundError, get_latest_form, layout_of
from ocr_service.retention.service import erase_document_now
from ocr_service.review.service import ReviewStateError, require_status
from ocr_service.storage.blobs import BlobStore

logger = logging.getLogger(__name__)

_RACE_JA = "この文書は他の担当者が先に処理しました。"


def _pages(db: Session, document: Document) -> list[Page]:
    return list(db.scalars(select(Page).where(Page.document_id == document.id).order_by(Page.page_no)))


def _audit(
    db: Session, principal: Principal, action: str, document: Document, detail: dict[str, object]
) -> None:
    audit(
        db,
        principal,
        action,
        obj_type="document",
        obj_id=document.id,
        document_id=document.id,
        detail={"batch": document.batch_id, "pages": [document.page_from, document.page_to], **detail},
    )


def assign_form(
    db: Session, *, principal: Principal, document_id: str, form_code: str, enqueue: Enqueue
) -> Document:
    """Read the document's pages again as ``form_code`` (its latest version); queued after commit."""
    document = get_document(db, document_id=document_id)
    require_status(document, DocumentStatus.UNIDENTIFIED)
    try:
        form = get_latest_form(db, code=form_code)
    except FormNotFoundError as exc:
        raise ReviewStateError(f"様式 '{form_code}' は登録されていません。", code="unknown_form") from exc
    layout_pages = layout_of(form).pages
    for index, page in enumerate(_pages(db, document)):
        page.status = "pending"
        page.form_id = form.id
        page.layout_page = index % layout_pages + 1
        page.reason = None
    db.execute(delete(FieldResult).where(FieldResult.document_id == document.id))
    db.flush()
    if not transition_document(
        db,
        document_id=document.id,
        from_statuses=(DocumentStatus.UNIDENTIFIED,),
        to_status=DocumentStatus.QUEUED,
        form_id=form.id,
        failure_reason=None,
    ):
        db.rollback()
        raise ReviewStateError(_RACE_JA, code="already_done")
    _audit(db, principal, "document.assign_form", document, {"form": f"{form.code}@v{form.version}"})
    db.commit()
    try:
        enqueue(document.id)
    except Exception:
        logger.exception("enqueue failed for document %s; beat will retry", document.id)
    db.refresh(document)
    return document


def exclude_document(db: Session, *, principal: Principal, document_id: str, reason: str) -> Document:
    """対象外: kept (with its pages) but never exported; the reason is required."""
    reason = reason.strip()
    if not reason:
        raise ReviewStateError("対象外にする理由を入力してください。", code="reason_required")
    document = get_document(db, document_id=document_id)
    require_status(document, DocumentStatus.UNIDENTIFIED)
    if not transition_document(
        db,
        document_id=document.id,
        from_statuses=(DocumentStatus.UNIDENTIFIED,),
        to_status=DocumentStatus.EXCLUDED,
        resolution_note=reason,
    ):
        db.rollback()
        raise ReviewStateError(_RACE_JA, code="already_done")
    _audit(db, principal, "document.exclude", document, {"reason": reason})
    db.commit()
    db.refresh(document)
    return document


def delete_document(
    db: Session, *, principal: Principal, document_id: str, reason: str, store: BlobStore, settings: Settings
) -> str:
    """Delete a 様式不明 (or 対象外) document for good: the same crypto-erase as retention, with a signed
    deletion certificate, so the batch's missing pages are accounted for by a person's decision.

    Returns the certificate id."""
    document = get_document(db, document_id=document_id)
    require_status(document, DocumentStatus.UNIDENTIFIED, DocumentStatus.EXCLUDED)
    _audit(db, principal, "document.delete", document, {"reason": reason.strip()})
    certificate = erase_document_now(
        db,
        settings=settings,
        principal=principal,
        document_id=document.id,
        reason=reason.strip() or "様式不明の文書を削除",
        store=store,
    )
    return certificate.id
