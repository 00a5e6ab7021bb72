"""The review queue for a day's work: filters, paging, progress, and 次の文書 with a soft claim.

A soft claim (``claimed_by`` until ``claim_expires_at``) keeps two reviewers from getting
the same document from 次の文書: it is taken with a conditional UPDATE, so of two reviewers
racing for one document exactly one wins and the other moves on to the next. It expires
on its own, so a reviewer who walks away does not lock a document for the day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ocr_service.auth.service import Principal
from ocr_service.db.base import utcnow
from ocr_service.documents.models import Document
from ocr_service.documents.sealing import open_document_names
from ocr_service.documents.status import (
    AWAITING_REVIEW,
    IN_PROGRESS,
    DocumentStatus,
    status_label,
)
from ocr_service.forms.models import FormDefinition
from ocr_service.review.service import as_aware

JST = timezone(timedelta(hours=9), "JST")
CLAIM_TTL = timedelta(minutes=15)
PAGE_SIZE = 50

QUEUE_GROUPS: dict[str, tuple[DocumentStatus, ...]] = {
    "読取中": IN_PROGRESS,
    "要確認": AWAITING_REVIEW,
    "様式不明": (DocumentStatus.UNIDENTIFIED,),
    "確認済": (DocumentStatus.CONFIRMED,),
    "出力済": (DocumentStatus.EXPORTED,),
    "読取失敗": (DocumentStatus.FAILED,),
    "対象外": (DocumentStatus.EXCLUDED,),
}
GROUP_OF_STATUS: dict[str, str] = {s.value: g for g, statuses in QUEUE_GROUPS.items() for s in statuses}
NO_FORM_TITLE = "（様式未定）"


def days_left(*, created_at: datetime, retention_days: int, now: datetime) -> int:
    """Whole days (rounded up) until automatic deletion; 0 once it is due.

    The retention job (ocr_service/retention) erases a document on its first run at or after
    ``created_at + retention_days``, so this is the same rule the job applies."""
    remaining = as_aware(created_at) + timedelta(days=retention_days) - now
    return max(0, math.ceil(remaining / timedelta(days=1)))


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer narrowed the list to; every part is optional."""

    form_code: str | None = None
    group: str | None = None
    uploaded_from: date | None = None
    """Upload date (JST), inclusive."""
    uploaded_to: date | None = None
    batch_id: str | None = None
    filename: str | None = None
    """Part of the uploaded file's name."""
    page: int = 1


@dataclass(frozen=True)
class QueueRow:
    document: Document
    form_code: str
    form_title: str
    group: str
    status_label: str
    days_left: int
    claimed_by_other: bool
    erase_at: datetime
    """When the retention job erases the document (its first run at or after this moment)."""
    erase_soon: bool
    """Within a day of erase: the queue marks it."""


@dataclass
class QueueView:
    rows: list[QueueRow]
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    """(form code, group) → number of documents (whole organisation, unfiltered)."""
    forms: dict[str, str] = field(default_factory=dict)
    """form code → title, in code order."""
    total: int = 0
    """Documents matching the filter (all pages)."""
    remaining: int = 0
    """残り N 件: documents still waiting for a first review."""
    page: int = 1
    pages: int = 1


def _jst_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=JST).astimezone(UTC)


def _filtered(query_filter: QueueFilter) -> list[object]:
    conditions: list[object] = [Document.status != DocumentStatus.DELETED]
    if query_filter.group:
        conditions.append(Document.status.in_(QUEUE_GROUPS.get(query_filter.group, ())))
    if query_filter.form_code:
        form_ids = select(FormDefinition.id).where(FormDefinition.code == query_filter.form_code)
        conditions.append(Document.form_id.in_(form_ids))
    if query_filter.uploaded_from:
        conditions.append(Document.created_at >= _jst_midnight_utc(query_filter.uploaded_from))
    if query_filter.uploaded_to:
        conditions.append(
            Document.created_at < _jst_midnight_utc(query_filter.uploaded_to + timedelta(days=1))
        )
    if query_filter.batch_id:
        conditions.append(Document.batch_id == query_filter.batch_id)
    return conditions


def _name_matches(db: Session, conditions: list[object], needle: str) -> list[str]:
    """Ids of the documents (oldest first) whose file name contains ``needle``.

    Names are sealed per document, so the database cannot search them: they are opened here,
    in this request only, for the documents the other filters left.
    """
    rows = open_document_names(
        db,
        db.scalars(
            select(Document).where(*conditions).order_by(Document.created_at, Document.page_from, Document.id)  # type: ignore[arg-type]
        ),
    )
    folded = needle.casefold()
    return [d.id for d in rows if folded in d.original_filename.casefold()]


def build_queue(
    db: Session,
    *,
    retention_days: int,
    query_filter: QueueFilter | None = None,
    viewer_id: int | None = None,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> QueueView:
    """Counts per form and status group, and one page of the documents matching the filter, oldest first."""
    query_filter = query_filter or QueueFilter()
    now = now or utcnow()
    forms = {f.id: f for f in db.scalars(select(FormDefinition))}
    view = QueueView(rows=[])
    counted = db.execute(
        select(Document.form_id, Document.status, func.count())
        .where(Document.status != DocumentStatus.DELETED)
        .group_by(Document.form_id, Document.status)
    )
    for form_id, status, count in counted:
        form = forms.get(form_id or "")
        code, title = (form.code, form.title) if form else ("", NO_FORM_TITLE)
        key = (code, GROUP_OF_STATUS.get(status, "読取中"))
        view.counts[key] = view.counts.get(key, 0) + int(count)
        view.forms.setdefault(code, title)
    view.forms = dict(sorted(view.forms.items()))
    view.remaining = sum(n for (_code, group), n in view.counts.items() if group == "要確認")
    conditions = _filtered(query_filter)
    if query_filter.filename:
        conditions.append(Document.id.in_(_name_matches(db, conditions, query_filter.filename)))
    view.total = int(db.scalar(select(func.count()).select_from(Document).where(*conditions)) or 0)  # type: ignore[arg-type]
    view.pages = max(1, math.ceil(view.total / page_size))
    view.page = min(max(1, query_filter.page), view.pages)
    query = (
        select(Document)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(Document.created_at, Document.page_from, Document.id)
        .limit(page_size)
        .offset((view.page - 1) * page_size)
    )
    for document in open_document_names(db, db.scalars(query)):
        form = forms.get(document.form_id or "")
        erase_at = as_aware(document.created_at) + timedelta(days=retention_days)
        claimed = (
            document.claimed_by is not None
            and document.claimed_by != viewer_id
            and document.claim_expires_at is not None
            and as_aware(document.claim_expires_at) > now
        )
        view.rows.append(
            QueueRow(
                document=document,
                form_code=form.code if form else "",
                form_title=form.title if form else NO_FORM_TITLE,
                group=GROUP_OF_STATUS.get(document.status, "読取中"),
                status_label=status_label(document.status),
                days_left=days_left(created_at=document.created_at, retention_days=retention_days, now=now),
                claimed_by_other=claimed,
                erase_at=erase_at,
                erase_soon=erase_at - now <= timedelta(days=1),
            )
        )
    return view


def _claimable(principal: Principal, now: datetime) -> object:
    return or_(
        Document.claimed_by.is_(None),
        Document.claimed_by == principal.user_id,
        Document.claim_expires_at < now,
    )


def claim_document(
    db: Session, *, principal: Principal, document_id: str, ttl: timedelta = CLAIM_TTL
) -> bool:
    """Take (or renew) the soft claim on one document waiting for review; False if another holds it."""
    now = utcnow()
    outcome = db.execute(
        update(Document)
        .where(
            Document.id == document_id,
            Document.status == DocumentStatus.RECOGNIZED,
            _claimable(principal, now),  # type: ignore[arg-type]
        )
        .values(claimed_by=principal.user_id, claim_expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return bool(getattr(outcome, "rowcount", 0) == 1)


def claim_next_document(
    db: Session, *, principal: Principal, query_filter: QueueFilter | None = None, ttl: timedelta = CLAIM_TTL
) -> Document | None:
    """次の文書: the caller's own live claim if any, else the oldest unclaimed document waiting for review.

    Never the same document for two reviewers at once: each candidate is taken with a conditional
    UPDATE, and a reviewer who loses the race tries the next one.
    """
    now = utcnow()
    query_filter = query_filter or QueueFilter()
    conditions = [*_filtered(query_filter), Document.status == DocumentStatus.RECOGNIZED]
    if query_filter.filename:
        conditions.append(Document.id.in_(_name_matches(db, conditions, query_filter.filename)))
    own = db.scalar(
        select(Document.id)
        .where(
            *conditions,  # type: ignore[arg-type]
            Document.claimed_by == principal.user_id,
            Document.claim_expires_at >= now,
        )
        .limit(1)
    )
    candidates = [own] if own else []
    candidates += list(
        db.scalars(
            select(Document.id)
            .where(*conditions, _claimable(principal, now))  # type: ignore[arg-type]
            .order_by(Document.created_at, Document.page_from, Document.id)
            .limit(20)
        )
    )
    for document_id in candidates:
        if claim_document(db, principal=principal, document_id=document_id, ttl=ttl):
            return db.get(Document, document_id)
    return None
