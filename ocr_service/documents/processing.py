"""State changes made by the ingest worker, each one a small idempotent transaction.

The worker owns a document through a short lease: it is claimed with a conditional
UPDATE (queued, or processing with an expired lease) that records a random token,
and a heartbeat thread renews it while the worker lives (:func:`renew_lease`). A
redelivered task for a document a live worker holds waits; one whose holder died
takes over as soon as the lease runs out (seconds, not the task time limit). Pages are committed one
by one and skipped when already done, so a retry after a crash continues where
the dead worker stopped instead of reading pages twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, and_, delete, or_, select, true, update
from sqlalchemy.orm import Session

from ocr_service.db.base import new_id, utcnow
from ocr_service.documents.batches import split_batch
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.documents.sealing import seal_field_value, seal_read_value
from ocr_service.documents.status import IN_PROGRESS, DocumentStatus, transition_document
from ocr_service.forms.models import FormDefinition
from ocr_service.keys.service import document_key, seal_text
from ocr_service.storage.blobs import BlobStore
from workers.pipeline.types import PageReading


@dataclass(frozen=True)
class Claim:
    """The outcome of :func:`claim_document`.

    ``claimed``: this worker holds the lease now. ``held``: a live worker holds it until
    ``lease_expires_at`` (a redelivered task waits for that, then tries again). ``gone``:
    done, failed or missing; nothing to do.
    """

    outcome: Literal["claimed", "held", "gone"]
    lease_expires_at: datetime | None = None


def claim_document(db: Session, *, document_id: str, token: str, lease: timedelta) -> Claim:
    """Take the document for processing when it is queued or its holder's lease ran out."""
    now = utcnow()
    claimed = transition_document(
        db,
        document_id=document_id,
        from_statuses=IN_PROGRESS,
        to_status=DocumentStatus.PROCESSING,
        # A processing document may only be taken over once its holder's lease ran out.
        condition=or_(
            Document.status == DocumentStatus.QUEUED,
            Document.lease_expires_at < now,
            Document.lease_expires_at.is_(None),
        ),
        attempts=Document.attempts + 1,
        lease_expires_at=now + lease,
        lease_token=token,
    )
    db.commit()
    if claimed:
        return Claim("claimed")
    row = db.execute(
        select(Document.status, Document.lease_expires_at).where(Document.id == document_id)
    ).first()
    db.commit()
    if row is not None and row.status == DocumentStatus.PROCESSING and row.lease_expires_at is not None:
        expires = row.lease_expires_at
        if expires.tzinfo is None:  # SQLite returns naive UTC
            expires = expires.replace(tzinfo=UTC)
        return Claim("held", expires)
    return Claim("gone")


def renew_lease(db: Session, *, document_id: str, token: str, lease: timedelta) -> bool:
    """Extend this worker's lease; False when it is no longer ours (taken over, or finished)."""
    result = db.execute(
        update(Document)
        .where(
            Document.id == document_id,
            Document.status == DocumentStatus.PROCESSING,
            Document.lease_token == token,
        )
        .values(lease_expires_at=utcnow() + lease)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return bool(getattr(result, "rowcount", 0) == 1)


def ensure_pages(db: Session, *, document: Document, layout_pages: int) -> list[Page]:
    """Create the page rows once; a retry finds them and keeps their status.

    A document uploaded for a named form gives every page that form version; one
    without (identified page by page) leaves ``form_id`` to :func:`save_page_reading`.
    """
    existing = {p.page_no: p for p in db.scalars(select(Page).where(Page.document_id == document.id))}
    if existing:
        # A split-off document (pages keep their batch numbers) or a retry: the rows are there.
        return [existing[n] for n in sorted(existing)]
    for page_no in range(1, document.page_count + 1):
        if page_no not in existing:
            page = Page(
                org_id=document.org_id,
                document_id=document.id,
                page_no=page_no,
                layout_page=(page_no - 1) % layout_pages + 1,
                form_id=document.form_id,
            )
            db.add(page)
            existing[page_no] = page
    db.commit()
    return [existing[n] for n in sorted(existing)]


def save_page_reading(
    db: Session, *, page: Page, reading: PageReading, page_png: bytes, store: BlobStore
) -> None:
    """Store one page's images (raw scan and, when aligned, the upright warped page), crops and
    field results in a single commit.

    Images, crops and values are encrypted with the document's data key; a document erased
    while it was being read has no key, so KeyErasedError stops the worker here."""
    dek = document_key(db, document_id=page.document_id)
    page.image_blob_key = store.put(page_png, dek=dek)
    page.aligned_blob_key = store.put(reading.aligned_png, dek=dek) if reading.aligned_png else None
    db.execute(delete(FieldResult).where(FieldResult.page_id == page.id))
    for field in reading.fields:
        value = ("1" if field.value else "0") if isinstance(field.value, bool) else field.value
        result_id = new_id()
        db.add(
            FieldResult(
                id=result_id,
                org_id=page.org_id,
                document_id=page.document_id,
                page_id=page.id,
                field_name=field.name,
                value_sealed=seal_field_value(
                    db, document_id=page.document_id, result_id=result_id, value=value
                ),
                read_value_sealed=seal_read_value(
                    db, document_id=page.document_id, result_id=result_id, value=value
                ),
                confidence=field.confidence,
                char_confidences=list(field.char_confidences),
                crop_blob_key=store.put(field.crop_png, dek=dek) if field.crop_png else None,
                status=field.status,
                reason_sealed=seal_text(
                    db,
                    document_id=page.document_id,
                    purpose=f"field_results.reason|{result_id}",
                    value=field.reason,
                )
                if field.reason
                else None,
            )
        )
    if reading.form_key is not None:
        # Identified page: the exact form version it was read with.
        page.form_id = reading.form_key
    elif reading.status == "unidentified":
        page.form_id = None
    if reading.layout_page is not None:
        page.layout_page = reading.layout_page
    page.identify_score = reading.identify_score
    page.status = reading.status
    page.reason = reading.reason
    page.inliers = reading.inliers
    page.residual_px = reading.residual_px
    page.processed_at = utcnow()
    db.commit()


def forms_for_identification(db: Session, *, org_id: int) -> list[FormDefinition]:
    """The newest published version of every form code of ``org_id``: what an unnamed upload may be.

    Workers run in the system scope, so the organisation is filtered explicitly here.
    """
    rows = db.scalars(
        select(FormDefinition)
        .where(FormDefinition.org_id == org_id, FormDefinition.status == "published")
        .order_by(FormDefinition.code, FormDefinition.version.desc())
    )
    latest: dict[str, FormDefinition] = {}
    for form in rows:
        latest.setdefault(form.code, form)
    return list(latest.values())


def _audit_outcome(db: Session, *, document_id: str, action: str, detail: dict[str, object]) -> None:
    """The worker's result is an audit event too (system principal); its forms feed the usage report."""
    from ocr_service.audit.service import SystemPrincipal, audit

    document = db.get(Document, document_id)
    if document is None:
        return
    rows = db.execute(
        select(FormDefinition.code)
        .join(Page, Page.form_id == FormDefinition.id)
        .where(Page.document_id == document_id)
    ).all()
    forms: dict[str, int] = {}
    for (code,) in rows:
        forms[code] = forms.get(code, 0) + 1
    audit(
        db,
        SystemPrincipal("worker"),
        action,
        obj_type="document",
        obj_id=document_id,
        document_id=document_id,
        form_code=next(iter(forms)) if len(forms) == 1 else "",
        org_id=document.org_id,
        detail={**detail, "forms": forms},
    )


def _held_by(token: str | None) -> ColumnElement[bool]:
    # None: any holder (tests and tools that build documents without a worker).
    return Document.lease_token == token if token is not None else true()


def mark_recognized(db: Session, *, document_id: str, token: str | None = None) -> bool:
    done = transition_document(
        db,
        document_id=document_id,
        from_statuses=(DocumentStatus.PROCESSING,),
        to_status=DocumentStatus.RECOGNIZED,
        condition=_held_by(token),
        processed_at=utcnow(),
        lease_expires_at=None,
        lease_token=None,
        failure_reason=None,
    )
    if done:
        _audit_outcome(db, document_id=document_id, action="document.recognized", detail={})
    db.commit()
    return done


def finish_reading(db: Session, *, document_id: str, store: BlobStore, token: str | None = None) -> list[str] | None:
    """Split the read batch into one document per form instance (要確認) or unread page (様式不明).

    One commit: the split and the status change land together, so a redelivered task finds
    the document no longer processing and cannot split it twice. None (nothing changed) when
    this worker's lease ``token`` no longer holds the document. The files the split re-encrypted
    under the new documents' keys are deleted only after that commit.
    """
    split = split_batch(db, document_id=document_id, store=store, held=_held_by(token))
    if split is None:
        db.rollback()
        return None
    ids, superseded = split
    db.commit()
    for key in superseded:
        store.delete(key)
    return ids


def mark_failed(db: Session, *, document_id: str, reason: str, token: str | None = None) -> None:
    """``reason`` is shown to staff: Japanese, no technical detail (that goes to the log)."""
    db.rollback()
    moved = transition_document(
        db,
        document_id=document_id,
        from_statuses=IN_PROGRESS,
        to_status=DocumentStatus.FAILED,
        # Queued: never claimed. Processing: only by the lease holder (not a worker that lost it).
        condition=or_(Document.status == DocumentStatus.QUEUED, _held_by(token)),
        failure_reason=reason,
        lease_expires_at=None,
        lease_token=None,
    )
    if moved:
        _audit_outcome(db, document_id=document_id, action="document.failed", detail={"reason": reason})
    db.commit()


def take_stale_documents(db: Session, *, older_than: timedelta) -> list[str]:
    """Documents whose task was lost: queued and untouched too long, or processing with a lease that
    ran out ``older_than`` ago (a redelivered task normally takes those over first: the sweep is the
    last resort).

    Their ``updated_at`` is bumped so the next sweep does not send them again while they wait in the queue.
    """
    now = utcnow()
    ids = list(
        db.scalars(
            select(Document.id).where(
                or_(
                    and_(Document.status == DocumentStatus.QUEUED, Document.updated_at < now - older_than),
                    and_(
                        Document.status == DocumentStatus.PROCESSING,
                        Document.lease_expires_at < now - older_than,
                    ),
                )
            )
        )
    )
    if ids:
        db.execute(
            update(Document)
            .where(Document.id.in_(ids))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
    db.commit()
    return ids
