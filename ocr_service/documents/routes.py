"""Document upload and read routes. Handlers stay thin: auth is the dependency, logic is the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from ocr_service.api.deps import OperatorCtx, ReviewerCtx
from ocr_service.documents import service
from ocr_service.documents.schemas import DocumentDetailOut, DocumentOut, FieldResultOut, PageOut
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
    ctx: ReviewerCtx,
    status_filter: Annotated[str | None, Query(alias="status", max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DocumentOut]:
    documents = service.list_documents(ctx.db, status=status_filter, limit=limit, offset=offset)
    ctx.record_view("document.list", detail={"status": status_filter, "count": len(documents)})
    return [DocumentOut.model_validate(d) for d in documents]


@router.get("/{document_id}", response_model=DocumentDetailOut)
def get_document(document_id: str, ctx: ReviewerCtx) -> DocumentDetailOut:
    document = service.get_document(ctx.db, document_id=document_id)
    pages = service.list_pages(ctx.db, document_id=document.id)
    fields = service.list_field_results(ctx.db, document_id=document.id)
    ctx.record_view("document.view", obj_type="document", obj_id=document.id, document_id=document.id)
    return DocumentDetailOut(
        **DocumentOut.model_validate(document).model_dump(),
        pages=[PageOut.model_validate(p) for p in pages],
        fields=[FieldResultOut.model_validate(f) for f in fields],
    )


@router.get("/{document_id}/pages/{page_no}/image", response_class=Response)
def page_image(document_id: str, page_no: int, ctx: ReviewerCtx) -> Response:
    data = service.read_page_image(ctx.db, document_id=document_id, page_no=page_no, store=ctx.runtime.store)
    ctx.record_view(
        "document.page_view", obj_type="page", obj_id=f"{document_id}/{page_no}", document_id=document_id
    )
    return Response(content=data, media_type="image/png", headers=_PNG_HEADERS)


@router.get("/{document_id}/fields/{field_result_id}/crop", response_class=Response)
def field_crop(document_id: str, field_result_id: str, ctx: ReviewerCtx) -> Response:
    data = service.read_field_crop(
        ctx.db, document_id=document_id, field_result_id=field_result_id, store=ctx.runtime.store
    )
    ctx.record_view(
        "document.crop_view", obj_type="field_result", obj_id=field_result_id, document_id=document_id
    )
    return Response(content=data, media_type="image/png", headers=_PNG_HEADERS)
