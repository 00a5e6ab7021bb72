"""Review JSON API: queue, field edits (optimistic locking), confirmation, double entry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ocr_service.api.deps import AdminCtx, ReviewerCtx
from ocr_service.documents.models import Document
from ocr_service.documents.status import DocumentStatus, status_label
from ocr_service.review import double_entry, service, unidentified
from ocr_service.review import queue as queue_service
from ocr_service.review.outcomes import outcome_rows, residual_error_by_form
from ocr_service.review.schemas import (
    AssignFormIn,
    BlindFieldOut,
    ConfirmIn,
    DisagreementOut,
    DocumentStatusOut,
    FieldEditIn,
    FieldEditOut,
    QueueFilterIn,
    QueueItemOut,
    ReasonIn,
    ValuesIn,
)

router = APIRouter(prefix="/review", tags=["review"])


def _status(document: Document, next_url: str | None = None) -> DocumentStatusOut:
    label = status_label(document.status)
    return DocumentStatusOut(id=document.id, status=document.status, status_label=label, next_url=next_url)


@router.get("/outcomes")
def outcomes(ctx: AdminCtx) -> dict[str, object]:
    """Measured residual error per form of this organisation (from confirmed fields; no values)."""
    threshold = ctx.runtime.settings.confidence_threshold
    forms = residual_error_by_form(outcome_rows(ctx.db), threshold=threshold)
    ctx.record_view("review.outcomes_view", detail={"forms": len(forms)})
    return {"threshold": threshold, "forms": forms}


@router.get("/queue", response_model=list[QueueItemOut])
def queue(ctx: ReviewerCtx, query_filter: Annotated[QueueFilterIn, Query()]) -> list[QueueItemOut]:
    view = queue_service.build_queue(
        ctx.db,
        retention_days=service.retention_days_for(
            ctx.db, org_id=ctx.principal.org_id, default=ctx.runtime.settings.retention_days
        ),
        query_filter=query_filter.to_filter(),
        viewer_id=ctx.principal.user_id,
    )
    ctx.record_view("review.queue_view", detail={"count": len(view.rows)})
    return [
        QueueItemOut(
            id=r.document.id,
            form_code=r.form_code,
            form_title=r.form_title,
            status=r.document.status,
            status_label=r.status_label,
            group=r.group,
            days_left=r.days_left,
            original_filename=r.document.original_filename,
            batch_id=r.document.batch_id,
            page_from=r.document.page_from,
            page_to=r.document.page_to,
            claimed_by_other=r.claimed_by_other,
        )
        for r in view.rows
    ]


@router.post("/next", response_model=DocumentStatusOut | None)
def next_document(
    ctx: ReviewerCtx, query_filter: Annotated[QueueFilterIn, Query()]
) -> DocumentStatusOut | None:
    """次の文書: soft-claims the oldest unclaimed document waiting for review (null when none is left)."""
    document = queue_service.claim_next_document(
        ctx.db, principal=ctx.principal, query_filter=query_filter.to_filter()
    )
    ctx.record_view(
        "review.next",
        obj_type="document",
        obj_id=document.id if document is not None else "",
        document_id=document.id if document is not None else None,
    )
    return _status(document, f"/review/documents/{document.id}") if document else None


@router.patch("/documents/{document_id}/fields/{field_result_id}", response_model=FieldEditOut)
def edit_field(document_id: str, field_result_id: str, body: FieldEditIn, ctx: ReviewerCtx) -> FieldEditOut:
    result, reason = service.edit_field(
        ctx.db,
        principal=ctx.principal,
        document_id=document_id,
        field_result_id=field_result_id,
        value=body.value,
        expected_version=body.version,
    )
    return FieldEditOut(
        id=result.id, field_name=result.field_name, value=result.value, version=result.version, reason=reason
    )


@router.post("/documents/{document_id}/confirm", response_model=DocumentStatusOut)
def confirm(document_id: str, ctx: ReviewerCtx, body: ConfirmIn | None = None) -> DocumentStatusOut:
    threshold = ctx.runtime.settings.confidence_threshold
    document = service.confirm_document(
        ctx.db,
        principal=ctx.principal,
        threshold=threshold,
        document_id=document_id,
        bulk=bool(body and body.bulk),
    )
    return _status(document, "/review/next")


@router.post("/documents/{document_id}/assign-form", response_model=DocumentStatusOut)
def assign_form(document_id: str, body: AssignFormIn, ctx: ReviewerCtx) -> DocumentStatusOut:
    document = unidentified.assign_form(
        ctx.db,
        principal=ctx.principal,
        document_id=document_id,
        form_code=body.form_code,
        enqueue=ctx.runtime.enqueue,
    )
    return _status(document, "/review")


@router.post("/documents/{document_id}/exclude", response_model=DocumentStatusOut)
def exclude(document_id: str, body: ReasonIn, ctx: ReviewerCtx) -> DocumentStatusOut:
    document = unidentified.exclude_document(
        ctx.db, principal=ctx.principal, document_id=document_id, reason=body.reason
    )
    return _status(document, "/review")


@router.post("/documents/{document_id}/delete", response_model=DocumentStatusOut)
def delete(document_id: str, body: ReasonIn, ctx: ReviewerCtx) -> DocumentStatusOut:
    certificate_id = unidentified.delete_document(
        ctx.db,
        principal=ctx.principal,
        document_id=document_id,
        reason=body.reason,
        store=ctx.runtime.store,
        settings=ctx.runtime.settings,
    )
    return DocumentStatusOut(
        id=document_id,
        status=DocumentStatus.DELETED,
        status_label=status_label(DocumentStatus.DELETED),
        next_url="/review",
        certificate_id=certificate_id,
    )


@router.get("/documents/{document_id}/blind-entry", response_model=list[BlindFieldOut])
def blind_entry_fields(document_id: str, ctx: ReviewerCtx) -> list[BlindFieldOut]:
    fields = double_entry.blind_entry_fields(
        ctx.db,
        principal=ctx.principal,
        document_id=document_id,
        threshold=ctx.runtime.settings.confidence_threshold,
    )
    ctx.record_view(
        "review.blind_entry_view", obj_type="document", obj_id=document_id, document_id=document_id
    )
    # The first reviewer's values are withheld on purpose: the second entry must be blind.
    return [
        BlindFieldOut(id=f.result.id, field_name=f.spec.name, label=f.spec.label, type=f.spec.type)
        for f in fields
    ]


@router.post("/documents/{document_id}/blind-entry", response_model=DocumentStatusOut)
def submit_blind_entry(document_id: str, body: ValuesIn, ctx: ReviewerCtx) -> DocumentStatusOut:
    document = double_entry.submit_blind_entry(
        ctx.db,
        principal=ctx.principal,
        document_id=document_id,
        values=body.values,
        threshold=ctx.runtime.settings.confidence_threshold,
    )
    return _status(document, "/review")


@router.get("/documents/{document_id}/arbitration", response_model=list[DisagreementOut])
def disagreements(document_id: str, ctx: ReviewerCtx) -> list[DisagreementOut]:
    items = double_entry.disagreements(ctx.db, principal=ctx.principal, document_id=document_id)
    ctx.record_view(
        "review.arbitration_view", obj_type="document", obj_id=document_id, document_id=document_id
    )
    return [
        DisagreementOut(
            id=i.result.id,
            field_name=i.spec.name,
            label=i.spec.label,
            first_value=i.entry.first_value,
            blind_value=i.entry.value,
        )
        for i in items
    ]


@router.post("/documents/{document_id}/arbitration", response_model=DocumentStatusOut)
def arbitrate(document_id: str, body: ValuesIn, ctx: ReviewerCtx) -> DocumentStatusOut:
    document = double_entry.arbitrate(
        ctx.db, principal=ctx.principal, document_id=document_id, decisions=body.values
    )
    return _status(document, "/review")
