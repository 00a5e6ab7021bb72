"""The document lifecycle: one status enum and the one way to change a document's status.

Every status change is a conditional UPDATE (``WHERE status IN from_statuses``), so two
workers or reviewers racing for the same document cannot both win: the loser sees
``False`` and decides what to tell its caller. The helper does not commit; the caller
commits together with its audit event.

Lifecycle::

    queued → processing → recognized → (double_entry → arbitration →) confirmed → exported
                       ↘ failed
    unidentified (様式不明: pages no form matched) → queued (assigned a form, read again)
                                                  → excluded (対象外, with a reason) | deleted
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session


class DocumentStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    RECOGNIZED = "recognized"
    FAILED = "failed"
    DOUBLE_ENTRY = "double_entry"
    ARBITRATION = "arbitration"
    CONFIRMED = "confirmed"
    EXPORTED = "exported"
    UNIDENTIFIED = "unidentified"
    EXCLUDED = "excluded"
    DELETED = "deleted"

    @property
    def label_ja(self) -> str:
        return STATUS_LABELS_JA[self]


STATUS_LABELS_JA: dict[DocumentStatus, str] = {
    DocumentStatus.QUEUED: "読取待ち",
    DocumentStatus.PROCESSING: "読取中",
    DocumentStatus.RECOGNIZED: "要確認",
    DocumentStatus.FAILED: "読取失敗",
    DocumentStatus.DOUBLE_ENTRY: "読み合わせ待ち",
    DocumentStatus.ARBITRATION: "裁定待ち",
    DocumentStatus.CONFIRMED: "確認済",
    DocumentStatus.EXPORTED: "出力済",
    DocumentStatus.UNIDENTIFIED: "様式不明",
    DocumentStatus.EXCLUDED: "対象外",
    DocumentStatus.DELETED: "削除済",
}

IN_PROGRESS = (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)
AWAITING_REVIEW = (DocumentStatus.RECOGNIZED, DocumentStatus.DOUBLE_ENTRY, DocumentStatus.ARBITRATION)
EXPORTABLE = (DocumentStatus.CONFIRMED,)


def status_label(status: str) -> str:
    """Japanese label of a stored status (the raw value for one this version does not know)."""
    try:
        return STATUS_LABELS_JA[DocumentStatus(status)]
    except ValueError:
        return status


def transition_document(
    db: Session,
    *,
    document_id: str,
    from_statuses: Iterable[DocumentStatus],
    to_status: DocumentStatus,
    condition: ColumnElement[bool] | None = None,
    **values: Any,
) -> bool:
    """Move one document to ``to_status`` if it is in one of ``from_statuses`` (and ``condition`` holds).

    ``values`` are further columns set in the same UPDATE. Returns whether this call made
    the change; the caller commits (or rolls back) with the rest of its unit of work.
    """
    # Imported here: models.py takes its column default from this module.
    from ocr_service.documents.models import Document

    allowed = [DocumentStatus(s).value for s in from_statuses]
    query = update(Document).where(Document.id == document_id, Document.status.in_(allowed))
    if condition is not None:
        query = query.where(condition)
    outcome = db.execute(
        query.values(status=DocumentStatus(to_status).value, **values).execution_options(
            synchronize_session=False
        )
    )
    return bool(getattr(outcome, "rowcount", 0) == 1)
