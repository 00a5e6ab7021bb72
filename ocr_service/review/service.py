"""Review workflow: the queue, the document view, field edits with optimistic locking, confirmation.

Every function runs in the caller's org-scoped session; a foreign id is simply not found.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal
from ocr_service.db.base import utcnow
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.documents.sealing import (
    open_field_results,
    seal_field_value,
)
from ocr_service.documents.service import DocumentNotFoundError, get_document
from ocr_service.documents.status import (
    DocumentStatus,
    status_label,
    transition_document,
)
from ocr_service.forms.layout import FieldSpec, FormLayout
from ocr_service.forms.models import FormDefinition
from ocr_service.forms.service import layout_of
from ocr_service.review.checks import FieldProblem, check_document, check_field_value
from ocr_service.review.outcomes import record_field_outcomes

ATTENTION_STATUSES = ("low_confidence", "invalid", "unreadable")


class ReviewStateError(ValueError):
    """The document is not in a state that allows this action; ``message`` is Japanese."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ReviewConflictError(ValueError):
    """Another reviewer saved the field first: the caller's version is stale."""

    def __init__(self, *, field_result_id: str, current_value: str, current_version: int) -> None:
        super().__init__(
            "他の担当者が先にこの項目を更新しました。表示中の値を確認してから、もう一度入力してください。"
        )
        self.field_result_id = field_result_id
        self.current_value = current_value
        self.current_version = current_version


class UnseenFieldsError(ValueError):
    """Confirm refused: flagged fields nobody accepted or corrected yet."""

    def __init__(self, unseen: list[FieldResult], labels: list[str]) -> None:
        super().__init__("未確認の要確認項目があります：" + "、".join(labels))
        self.unseen = unseen
        self.labels = labels


BULK_CONFIRM_ROLE = "admin"
"""一括確定 (confirm with flagged fields unseen) is a supervisor's explicit, audited decision."""


class ConfirmBlockedError(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("確認できない項目があります。")
        self.problems = problems


def as_aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def retention_days_for(db: Session, *, org_id: int, default: int) -> int:
    """The organisation's own retention period, else the installation's (OCR_RETENTION_DAYS)."""
    from ocr_service.orgs.models import Organisation

    org = db.get(Organisation, org_id)
    return (org.retention_days if org is not None else None) or default


@dataclass(frozen=True)
class FieldRow:
    result: FieldResult
    spec: FieldSpec
    flagged: bool
    """Low confidence or a problem at reading time: the reviewer must look at it."""
    reason: str | None
    """Current check result, else the reason given at reading time."""


@dataclass(frozen=True)
class DocumentReview:
    document: Document
    form: FormDefinition
    layout: FormLayout
    pages: list[Page]
    rows: list[FieldRow]
    """Flagged fields first (in layout order), then the auto-accepted ones."""

    @property
    def page_no_of(self) -> dict[str, int]:
        """page id → its page number in the batch scan (shown next to each field)."""
        return {page.id: page.page_no for page in self.pages}


def is_flagged(result: FieldResult, *, threshold: float) -> bool:
    return result.status in ATTENTION_STATUSES or result.confidence < threshold


def form_of(db: Session, document: Document) -> tuple[FormDefinition, FormLayout]:
    """The form version a document was read with; for an upload identified page by page
    (no form named), the form of its first identified page."""
    form_id = document.form_id or db.scalar(
        select(Page.form_id)
        .where(Page.document_id == document.id, Page.form_id.is_not(None))
        .order_by(Page.page_no)
        .limit(1)
    )
    form = db.get(FormDefinition, form_id) if form_id else None
    if form is None:
        raise DocumentNotFoundError(document.id)
    return form, layout_of(form)


def results_in_page_order(
    db: Session, *, document_id: str, form_code: str | None = None
) -> list[FieldResult]:
    """The document's field results by page; with ``form_code``, only pages read as that form
    (a PDF may hold several forms; a page without its own form was read with the document's)."""
    query = (
        select(FieldResult)
        .join(Page, Page.id == FieldResult.page_id)
        .where(FieldResult.document_id == document_id)
    )
    if form_code is not None:
        form_ids = select(FormDefinition.id).where(FormDefinition.code == form_code)
        query = query.join(Document, Document.id == FieldResult.document_id).where(
            func.coalesce(Page.form_id, Document.form_id).in_(form_ids)
        )
    return open_field_results(db, db.scalars(query.order_by(Page.page_no)))


def merged_values(results: Iterable[FieldResult]) -> dict[str, str]:
    """One value per field name for the whole document: the first non-empty one in page order."""
    values: dict[str, str] = {}
    for result in results:
        if not values.get(result.field_name):
            values[result.field_name] = result.value
    return values


def load_document_review(db: Session, *, document_id: str, threshold: float) -> DocumentReview:
    document = get_document(db, document_id=document_id)
    form, layout = form_of(db, document)
    specs = {spec.name: spec for spec in layout.fields}
    order = {spec.name: index for index, spec in enumerate(layout.fields)}
    rows = []
    for result in results_in_page_order(db, document_id=document.id):
        spec = specs.get(result.field_name)
        if spec is None:
            continue
        reason = check_field_value(spec, result.value) or (
            result.reason if result.reviewed_by is None else None
        )
        rows.append(
            FieldRow(
                result=result,
                spec=spec,
                flagged=is_flagged(result, threshold=threshold) or bool(reason),
                reason=reason,
            )
        )
    rows.sort(key=lambda row: (not row.flagged, order[row.spec.name]))
    pages = list(db.scalars(select(Page).where(Page.document_id == document.id).order_by(Page.page_no)))
    return DocumentReview(document=document, form=form, layout=layout, pages=pages, rows=rows)


def require_status(document: Document, *allowed: DocumentStatus) -> None:
    if document.status not in allowed:
        label = status_label(document.status)
        raise ReviewStateError(f"この文書は「{label}」のため、この操作はできません。", code="wrong_status")


def edit_field(
    db: Session,
    *,
    principal: Principal,
    document_id: str,
    field_result_id: str,
    value: str,
    expected_version: int,
) -> tuple[FieldResult, str | None]:
    """Save a reviewer's value (or accept the read one) if nobody saved the field since ``expected_version``.

    Returns the saved result and its current check reason. The conditional UPDATE is the lock:
    of two reviewers holding the same version, exactly one wins and the other gets
    :class:`ReviewConflictError` with the value that won.
    """
    document = get_document(db, document_id=document_id)
    require_status(document, DocumentStatus.RECOGNIZED)
    result = db.scalar(
        select(FieldResult).where(FieldResult.id == field_result_id, FieldResult.document_id == document.id)
    )
    if result is None:
        raise DocumentNotFoundError(field_result_id)
    (result,) = open_field_results(db, [result])
    old_value = result.value
    outcome = db.execute(
        update(FieldResult)
        .where(FieldResult.id == result.id, FieldResult.version == expected_version)
        .values(
            value_sealed=seal_field_value(db, document_id=document.id, result_id=result.id, value=value),
            version=FieldResult.version + 1,
            reviewed_by=principal.user_id,
            reviewed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    db.refresh(result)
    (result,) = open_field_results(db, [result])
    if getattr(outcome, "rowcount", 0) != 1:
        db.rollback()
        raise ReviewConflictError(
            field_result_id=result.id, current_value=result.value, current_version=result.version
        )
    audit(
        db,
        principal,
        "review.field_edit" if value != old_value else "review.field_accept",
        obj_type="field_result",
        obj_id=result.id,
        document_id=document.id,
        detail={"document": document.id, "field": result.field_name, "version": result.version},
        personal={"old": old_value, "new": value},
    )
    db.commit()
    _form, layout = form_of(db, document)
    spec = next((s for s in layout.fields if s.name == result.field_name), None)
    return result, check_field_value(spec, value) if spec else None


def normalized(value: str) -> str:
    """Comparison form: width and spacing differences are not disagreements."""
    return unicodedata.normalize("NFKC", value).strip()


def unseen_flagged(db: Session, *, document: Document, threshold: float) -> list[FieldRow]:
    """Flagged fields (low confidence, problem at reading, or failing a check now) no person has
    accepted or corrected yet."""
    review = load_document_review(db, document_id=document.id, threshold=threshold)
    return [row for row in review.rows if row.flagged and row.result.reviewed_by is None]


def confirm_document(
    db: Session, *, principal: Principal, threshold: float, document_id: str, bulk: bool = False
) -> Document:
    """Confirm once every flagged field was seen (accepted or corrected by a person); then check every
    field again. Under double entry the document waits for the blind second entry.

    ``bulk`` is 一括確定: a supervisor confirms with flagged fields unseen; the audit event lists them.
    """
    document = get_document(db, document_id=document_id)
    require_status(document, DocumentStatus.RECOGNIZED)
    _form, layout = form_of(db, document)
    if bulk and not principal.has_role(BULK_CONFIRM_ROLE):
        raise ReviewStateError("一括確定は管理者だけが行えます。", code="bulk_forbidden")
    results = results_in_page_order(db, document_id=document.id)
    problems = check_document(layout, merged_values(results))
    if problems:
        raise ConfirmBlockedError(problems)
    unseen = unseen_flagged(db, document=document, threshold=threshold)
    if unseen and not bulk:
        raise UnseenFieldsError([r.result for r in unseen], [r.spec.label for r in unseen])
    needs_second = layout.review.double_entry and any(is_flagged(r, threshold=threshold) for r in results)
    next_status = DocumentStatus.DOUBLE_ENTRY if needs_second else DocumentStatus.CONFIRMED
    moved = transition_document(
        db,
        document_id=document.id,
        from_statuses=(DocumentStatus.RECOGNIZED,),
        to_status=next_status,
        confirmed_by=principal.user_id,
        confirmed_at=utcnow(),
        claimed_by=None,
        claim_expires_at=None,
    )
    if not moved:
        db.rollback()
        raise ReviewStateError("この文書は他の担当者が先に確認しました。", code="already_confirmed")
    detail: dict[str, object] = {"status": next_status.value, "fields": len(results)}
    personal: dict[str, object] | None = None
    if bulk:
        detail["unseen"] = [{"id": r.result.id, "field": r.result.field_name} for r in unseen]
        # The unseen values themselves are personal data: audit() seals them with the document's key.
        personal = {r.result.field_name: r.result.value for r in unseen}
    if next_status == DocumentStatus.CONFIRMED:
        record_review_outcomes(db, document=document)
    audit(
        db,
        principal,
        "review.bulk_confirm" if bulk else "review.confirm",
        obj_type="document",
        obj_id=document.id,
        document_id=document.id,
        detail=detail,
        personal=personal or None,
    )
    db.commit()
    db.refresh(document)
    return document


def record_review_outcomes(db: Session, *, document: Document) -> None:
    """Leave the value-free outcome of every field of a document that has just become confirmed."""
    form, layout = form_of(db, document)
    record_field_outcomes(
        db,
        document=document,
        layout=layout,
        form_code=form.code,
        results=results_in_page_order(db, document_id=document.id),
    )


def next_document_to_review(db: Session, *, after: Document) -> Document | None:
    """The oldest other document still waiting for a first review (so confirm can move straight on)."""
    return db.scalar(
        select(Document)
        .where(Document.status == DocumentStatus.RECOGNIZED, Document.id != after.id)
        .order_by(Document.created_at, Document.id)
        .limit(1)
    )
