"""Review workflow: the queue, the document view, field edits with optimistic locking, confirmation.

Every function runs in the caller's org-scoped session; a foreign id is simply not found.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal
from ocr_service.db.base import utcnow
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.documents.sealing import (
    open_document_names,
    open_field_results,
    seal_field_value,
)
from ocr_service.documents.service import DocumentNotFoundError, get_document
from ocr_service.documents.status import (
    AWAITING_REVIEW,
    IN_PROGRESS,
    DocumentStatus,
    status_label,
    transition_document,
)
from ocr_service.forms.layout import FieldSpec, FormLayout
from ocr_service.forms.models import FormDefinition
from ocr_service.forms.service import layout_of
from ocr_service.review.checks import FieldProblem, check_document, check_field_value
from ocr_service.review.outcomes import record_field_outcomes

QUEUE_GROUPS: dict[str, tuple[DocumentStatus, ...]] = {
    "読取中": IN_PROGRESS,
    "要確認": AWAITING_REVIEW,
    "様式不明": (DocumentStatus.UNIDENTIFIED,),
    "確認済": (DocumentStatus.CONFIRMED,),
    "出力済": (DocumentStatus.EXPORTED,),
    "読取失敗": (DocumentStatus.FAILED,),
    "対象外": (DocumentStatus.EXCLUDED,),
}
GROUP_OF_STATUS: dict[str, str] = {
    status.value: group for group, statuses in QUEUE_GROUPS.items() for status in statuses
}
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


class ConfirmBlockedError(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("確認できない項目があります。")
        self.problems = problems


def as_aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def days_left(*, created_at: datetime, retention_days: int, now: datetime) -> int:
    """Whole days (rounded up) until automatic deletion; 0 once it is due.

    The retention job (ocr_service/retention) erases a document on its first run at or after
    ``created_at + retention_days``, so this is the same rule the job applies."""
    remaining = as_aware(created_at) + timedelta(days=retention_days) - now
    return max(0, math.ceil(remaining / timedelta(days=1)))


def retention_days_for(db: Session, *, org_id: int, default: int) -> int:
    """The organisation's own retention period, else the installation's (OCR_RETENTION_DAYS)."""
    from ocr_service.orgs.models import Organisation

    org = db.get(Organisation, org_id)
    return (org.retention_days if org is not None else None) or default


@dataclass(frozen=True)
class QueueRow:
    document: Document
    form_code: str
    form_title: str
    group: str
    status_label: str
    days_left: int
    erase_at: datetime
    """When the retention job erases the document (its first run at or after this moment)."""
    erase_soon: bool
    """Within a day of erase: the queue marks it."""


@dataclass
class QueueView:
    rows: list[QueueRow]
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """(form code, group) → number of documents."""
    forms: dict[str, str] = field(default_factory=dict)
    """form code → title, in code order."""


def build_queue(
    db: Session,
    *,
    retention_days: int,
    group: str | None = None,
    limit: int = 500,
    now: datetime | None = None,
) -> QueueView:
    """Counts per form and status group, and up to ``limit`` documents (of ``group``), oldest first."""
    now = now or utcnow()
    forms = {f.id: f for f in db.scalars(select(FormDefinition))}
    view = QueueView(rows=[])
    counted = db.execute(
        select(Document.form_id, Document.status, func.count()).group_by(Document.form_id, Document.status)
    )
    for form_id, status, count in counted:
        form = forms.get(form_id or "")
        code, title = (form.code, form.title) if form else ("", "（様式なし）")
        key = (code, GROUP_OF_STATUS.get(status, "読取中"))
        view.counts[key] = view.counts.get(key, 0) + int(count)
        view.forms.setdefault(code, title)
    view.forms = dict(sorted(view.forms.items()))
    query = select(Document).order_by(Document.created_at, Document.id).limit(limit)
    if group is not None:
        query = query.where(Document.status.in_(QUEUE_GROUPS.get(group, ())))
    for document in open_document_names(db, db.scalars(query)):
        form = forms.get(document.form_id or "")
        view.rows.append(
            QueueRow(
                document=document,
                form_code=form.code if form else "",
                form_title=form.title if form else "（様式なし）",
                group=GROUP_OF_STATUS.get(document.status, "読取中"),
                status_label=status_label(document.status),
                days_left=days_left(created_at=document.created_at, retention_days=retention_days, now=now),
                erase_at=as_aware(document.created_at) + timedelta(days=retention_days),
                erase_soon=as_aware(document.created_at) + timedelta(days=retention_days) - now
                <= timedelta(days=1),
            )
        )
    return view


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


def confirm_document(db: Session, *, principal: Principal, threshold: float, document_id: str) -> Document:
    """Check every field again and confirm; under double entry the document waits for the blind second entry."""
    document = get_document(db, document_id=document_id)
    require_status(document, DocumentStatus.RECOGNIZED)
    _form, layout = form_of(db, document)
    results = results_in_page_order(db, document_id=document.id)
    problems = check_document(layout, merged_values(results))
    if problems:
        raise ConfirmBlockedError(problems)
    needs_second = layout.review.double_entry and any(is_flagged(r, threshold=threshold) for r in results)
    next_status = DocumentStatus.DOUBLE_ENTRY if needs_second else DocumentStatus.CONFIRMED
    moved = transition_document(
        db,
        document_id=document.id,
        from_statuses=(DocumentStatus.RECOGNIZED,),
        to_status=next_status,
        confirmed_by=principal.user_id,
        confirmed_at=utcnow(),
    )
    if not moved:
        db.rollback()
        raise ReviewStateError("この文書は他の担当者が先に確認しました。", code="already_confirmed")
    if next_status == DocumentStatus.CONFIRMED:
        record_review_outcomes(db, document=document)
    audit(
        db,
        principal,
        "review.confirm",
        obj_type="document",
        obj_id=document.id,
        document_id=document.id,
        detail={"status": next_status, "fields": len(results)},
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
