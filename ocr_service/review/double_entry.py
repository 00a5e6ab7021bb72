"""Double entry (読み合わせ): a second reviewer types the flagged fields blind; an arbiter settles disagreements.

Flow: confirm (first reviewer) → ``double_entry`` → blind entry by a different reviewer →
``confirmed`` when every value agrees, else ``arbitration`` → an admin, or a reviewer who
typed neither value, decides each disagreement → ``confirmed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal
from ocr_service.db.base import new_id, set_opened_plain, utcnow
from ocr_service.documents.models import Document, FieldResult
from ocr_service.documents.sealing import (
    open_blind_entries,
    seal_blind_value,
    seal_field_value,
)
from ocr_service.documents.service import get_document
from ocr_service.documents.status import DocumentStatus, transition_document
from ocr_service.forms.layout import FieldSpec
from ocr_service.review.checks import check_document
from ocr_service.review.models import BlindEntry
from ocr_service.review.service import (
    ConfirmBlockedError,
    ReviewStateError,
    form_of,
    is_flagged,
    merged_values,
    normalized,
    record_review_outcomes,
    require_status,
    results_in_page_order,
)


@dataclass(frozen=True)
class BlindField:
    result: FieldResult
    spec: FieldSpec


@dataclass(frozen=True)
class Disagreement:
    result: FieldResult
    spec: FieldSpec
    entry: BlindEntry


def _flagged(db: Session, document: Document, *, threshold: float) -> list[BlindField]:
    _form, layout = form_of(db, document)
    specs = {spec.name: spec for spec in layout.fields}
    return [
        BlindField(result=r, spec=specs[r.field_name])
        for r in results_in_page_order(db, document_id=document.id)
        if r.field_name in specs and is_flagged(r, threshold=threshold)
    ]


def blind_entry_fields(
    db: Session, *, principal: Principal, document_id: str, threshold: float
) -> list[BlindField]:
    """The fields the second reviewer must type (their values are for the caller to withhold)."""
    document = get_document(db, document_id=document_id)
    require_status(document, DocumentStatus.DOUBLE_ENTRY)
    if document.confirmed_by == principal.user_id:
        raise ReviewStateError("読み合わせは最初の確認者とは別の担当者が行います。", code="same_reviewer")
    return _flagged(db, document, threshold=threshold)


def _finish(
    db: Session, *, document: Document, from_status: DocumentStatus, to_status: DocumentStatus
) -> None:
    moved = transition_document(
        db,
        document_id=document.id,
        from_statuses=(from_status,),
        to_status=to_status,
        confirmed_at=utcnow(),
    )
    if not moved:
        db.rollback()
        raise ReviewStateError("この文書は他の担当者が先に処理しました。", code="already_done")
    if to_status == DocumentStatus.CONFIRMED:
        record_review_outcomes(db, document=document)


def submit_blind_entry(
    db: Session, *, principal: Principal, document_id: str, values: dict[str, str], threshold: float
) -> Document:
    """Record the blind values; the document is confirmed if all agree, else it goes to arbitration."""
    fields = blind_entry_fields(db, principal=principal, document_id=document_id, threshold=threshold)
    missing = [f.spec.label for f in fields if f.result.id not in values]
    if missing:
        raise ReviewStateError(f"未入力の項目があります：{'、'.join(missing)}", code="incomplete")
    mismatches = []
    for item in fields:
        typed = values[item.result.id]
        matched = normalized(typed) == normalized(item.result.value)
        entry_id = new_id()
        db.add(
            BlindEntry(
                id=entry_id,
                org_id=principal.org_id,
                document_id=document_id,
                field_result_id=item.result.id,
                user_id=principal.user_id,
                value_sealed=seal_blind_value(
                    db, document_id=document_id, entry_id=entry_id, column="value", value=typed
                ),
                first_value_sealed=seal_blind_value(
                    db,
                    document_id=document_id,
                    entry_id=entry_id,
                    column="first_value",
                    value=item.result.value,
                ),
                matched=matched,
            )
        )
        if not matched:
            mismatches.append(item.result.field_name)
    document = get_document(db, document_id=document_id)
    _finish(
        db,
        document=document,
        from_status=DocumentStatus.DOUBLE_ENTRY,
        to_status=DocumentStatus.ARBITRATION if mismatches else DocumentStatus.CONFIRMED,
    )
    audit(
        db,
        principal,
        "review.blind_entry",
        obj_type="document",
        obj_id=document_id,
        document_id=document_id,
        detail={"fields": len(fields), "mismatches": mismatches},
    )
    db.commit()
    db.refresh(document)
    return document


def disagreements(db: Session, *, principal: Principal, document_id: str) -> list[Disagreement]:
    """The fields the arbiter must decide; only an admin or a reviewer who typed neither value may."""
    document = get_document(db, document_id=document_id)
    require_status(document, DocumentStatus.ARBITRATION)
    entries = open_blind_entries(
        db,
        db.scalars(
            select(BlindEntry).where(BlindEntry.document_id == document.id, BlindEntry.matched.is_(False))
        ),
    )
    typists = {document.confirmed_by, *(e.user_id for e in entries)}
    if principal.role != "admin" and principal.user_id in typists:
        raise ReviewStateError(
            "裁定は管理者か、どちらの入力もしていない担当者が行います。", code="not_arbiter"
        )
    _form, layout = form_of(db, document)
    specs = {spec.name: spec for spec in layout.fields}
    results = {r.id: r for r in results_in_page_order(db, document_id=document.id)}
    return [
        Disagreement(
            result=results[e.field_result_id], spec=specs[results[e.field_result_id].field_name], entry=e
        )
        for e in entries
    ]


def arbitrate(db: Session, *, principal: Principal, document_id: str, decisions: dict[str, str]) -> Document:
    """Write the arbiter's value for every disagreement, check the document again and confirm it."""
    items = disagreements(db, principal=principal, document_id=document_id)
    missing = [i.spec.label for i in items if i.result.id not in decisions]
    if missing:
        raise ReviewStateError(f"裁定していない項目があります：{'、'.join(missing)}", code="incomplete")
    changes = []
    for item in items:
        decided = decisions[item.result.id]
        changes.append(
            {
                "field": item.result.field_name,
                "old": item.result.value,
                "blind": item.entry.value,
                "new": decided,
            }
        )
        item.result.value_sealed = seal_field_value(
            db, document_id=document_id, result_id=item.result.id, value=decided
        )
        set_opened_plain(item.result, "value_sealed", decided)
        item.result.version += 1
        item.result.reviewed_by = principal.user_id
        item.result.reviewed_at = utcnow()
    db.flush()
    document = get_document(db, document_id=document_id)
    _form, layout = form_of(db, document)
    problems = check_document(layout, merged_values(results_in_page_order(db, document_id=document.id)))
    if problems:
        db.rollback()
        raise ConfirmBlockedError(problems)
    _finish(db, document=document, from_status=DocumentStatus.ARBITRATION, to_status=DocumentStatus.CONFIRMED)
    audit(
        db,
        principal,
        "review.arbitrate",
        obj_type="document",
        obj_id=document_id,
        document_id=document_id,
        detail={"fields": [c["field"] for c in changes]},
        personal={"changes": changes},
    )
    db.commit()
    db.refresh(document)
    return document
