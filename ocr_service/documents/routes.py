"""Document upload and read routes. Handlers stay thin: auth is the dependency, logic is the service."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from ocr_service.api.deps import OperatorCtx, ReviewerCtx
from ocr_service.audit.service import record_audit_event
from ocr_service.documents import batches, service
from ocr_service.documents.schemas import BatchOut, DocumentDetailOut, DocumentOut, FieldResultOut, PageOut
from ocr_service.documents.service import UploadLimits

router = APIRouter(prefix="/documents", tags=["documents"])

_PNG_HEADERS = {"Cache-Control": "no-store"}


@router.post("", response_model=DocumentOut, status_code=status.HTTP_201_CREATED)
async def upload(
    ctx: OperatorCtx,
    file: Annotated[UploadFile, File(description="Scanned PDF")],
    form_code: Annotated[str | None, Form(max_length=64)] = None,
) -> DocumentOut:
    settings = ctx.runtime.settings
    # Read one byte past the limit so an oversized upload is refused without holding all of it.
    data = await file.read(settings.max_upload_bytes + 1)
    document = service.upload_document(
        ctx.db,
        principal=ctx.principal,
        data=data,
        filename=file.filename,
        form_code=form_code or None,
        limits=UploadLimits(max_bytes=settings.max_upload_bytes, max_pages=settings.max_pages),
        store=ctx.runtime.store,
        enqueue=ctx.runtime.enqueue,
    )
    return DocumentOut.model_validate(document)


@router.get("", response_model=list[DocumentOut])
def list_documents(
    ctx: OperatorCtx,
    status_filter: Annotated[str | None, Query(alias="status", max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DocumentOut]:
    documents = service.list_documents(ctx.db, status=status_filter, limit=limit, offset=offset)
    return [DocumentOut.model_validate(d) for d in documents]


@router.get("/{document_id}", response_model=DocumentDetailOut)
def get_document(document_id: str, ctx: ReviewerCtx) -> DocumentDetailOut:
    document = service.get_document(ctx.db, document_id=document_id)
    pages = service.list_pages(ctx.db, document_id=document.id)
    fields = service.list_field_results(ctx.db, document_id=document.id)
    record_audit_event(
        ctx.db,
        action="document.view",
        org_id=ctx.principal.org_id,
        user_id=ctx.principal.user_id,
        object_type="document",
        object_id=document.id,
    )
    ctx.db.commit()
    field_out = [FieldResultOut.model_validate(f) for f in fields]
    if service.values_withheld(document, principal=ctx.principal):
        # 読み合わせ is blind: neither the first entry nor the machine reading reaches the second reviewer.
        field_out = [f.model_copy(update={"value": "", "char_confidences": []}) for f in field_out]
    return DocumentDetailOut(
        **DocumentOut.model_validate(document).model_dump(),
        pages=[PageOut.model_validate(p) for p in pages],
        fields=field_out,
    )


@router.get("/{document_id}/pages/{page_no}/image", response_class=Response)
def page_image(
    document_id: str,
    page_no: int,
    ctx: ReviewerCtx,
    view: Annotated[Literal["aligned", "raw"], Query()] = "aligned",
) -> Response:
    """The page upright and aligned to its template (what was read), or the raw scan; a page that
    was never aligned has only the raw scan."""
    data = service.read_page_image(
        ctx.db, document_id=document_id, page_no=page_no, store=ctx.runtime.store, aligned=view == "aligned"
    )
    return Response(content=data, media_type="image/png", headers=_PNG_HEADERS)


@router.get("/{document_id}/fields/{field_result_id}/crop", response_class=Response)
def field_crop(document_id: str, field_result_id: str, ctx: ReviewerCtx) -> Response:
    data = service.read_field_crop(
        ctx.db, document_id=document_id, field_result_id=field_result_id, store=ctx.runtime.store
    )
    return Response(content=data, media_type="image/png", headers=_PNG_HEADERS)


batches_router = APIRouter(prefix="/batches", tags=["batches"])


@batches_router.get("", response_model=list[BatchOut])
def list_batches(
    ctx: OperatorCtx,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[BatchOut]:
    """受付状況: the organisation's uploads and the documents each became (statuses, no field values)."""
    return [BatchOut.of(view) for view in batches.list_batches(ctx.db, limit=limit, offset=offset)]


@batches_router.get("/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: str, ctx: OperatorCtx) -> BatchOut:
    return BatchOut.of(batches.get_batch(ctx.db, batch_id=batch_id))
