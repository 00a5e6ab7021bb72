"""Document upload and read routes. Handlers stay thin: auth is the dependency, logic is the service."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from ocr_service.api.deps import OperatorCtx, ReviewerCtx
from ocr_service.db.scoping import OrgScope, set_scope
from ocr_service.documents import batches, service
from ocr_service.documents.schemas import (
    BatchOut,
    DocumentDetailOut,
    DocumentOut,
    FieldResultOut,
    PageOut,
    UploadOut,
)
from ocr_service.documents.service import UploadLimits
from ocr_service.documents.uploads import (
    UploadDeadline,
    body_limited,
    check_upload_headers,
    multipart_error,
    pick_upload_parts,
)

router = APIRouter(prefix="/documents", tags=["documents"])

_PNG_HEADERS = {"Cache-Control": "no-store"}


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "Scanned PDF, or a JPEG / PNG / multi-page TIFF scan",
                        },
                        "form_code": {"type": "string", "maxLength": 64},
                        "source": {"type": "string", "maxLength": 100, "description": "Sending bridge"},
                    },
                }
            }
        },
    }
}


@router.post("", response_model=UploadOut, status_code=status.HTTP_201_CREATED, openapi_extra=_UPLOAD_BODY)
async def upload(request: Request, response: Response, ctx: OperatorCtx) -> UploadOut:
    """201 with the new document, or 200 with the first one when this exact file (SHA-256) was already
    uploaded by the organisation within the retention period (``duplicate: true``).

    Async only to read the body; inspection, encryption and storage run in the upload gate's threads."""
    runtime = ctx.runtime
    settings = runtime.settings
    check_upload_headers(request, max_bytes=settings.max_upload_bytes)
    try:
        body = body_limited(request, max_bytes=settings.max_upload_bytes)
        async with body.form(max_files=2, max_fields=8) as form:
            parts = pick_upload_parts(form)

            def work(deadline: UploadDeadline) -> UploadOut:
                deadline.check(stage="inspect")  # waited too long for a thread: the request gave up
                parts.file.file.seek(0)
                # One byte past the limit, so an oversized upload is refused without reading all of it.
                data = parts.file.file.read(settings.max_upload_bytes + 1)
                # Its own session: if the request stops waiting, the dependency's session closes under it.
                with runtime.session_factory() as db:
                    set_scope(db, OrgScope(ctx.principal.org_id))
                    result = _store(db, data, deadline)
                    # batch_id is read from the document once documents carry one (issue 10).
                    return UploadOut.model_validate(result.document).model_copy(
                        update={"duplicate": result.duplicate}
                    )

            def _store(db: Session, data: bytes, deadline: UploadDeadline) -> service.UploadResult:
                return service.upload_document(
                    db,
                    principal=ctx.principal,
                    data=data,
                    filename=parts.filename,
                    form_code=parts.form_code,
                    source=parts.source,
                    limits=UploadLimits(
                        max_bytes=settings.max_upload_bytes,
                        max_pages=settings.max_pages,
                        max_page_pixels=settings.max_page_pixels,
                    ),
                    retention_days=settings.retention_days,
                    store=runtime.store,
                    enqueue=runtime.enqueue,
                    deadline=deadline,
                )

            # Hand the request's connection back now; the upload thread uses a session of its own.
            ctx.db.commit()
            ctx.db.close()
            answer = await runtime.upload_gate.run(work)
            if answer.duplicate:
                response.status_code = status.HTTP_200_OK
            return answer
    except (MultiPartException, StarletteHTTPException) as exc:
        # Starlette reports a broken body as an HTTPException(400) with an English message.
        if isinstance(exc, StarletteHTTPException) and exc.status_code != 400:
            raise
        raise multipart_error(exc) from exc


@router.get("", response_model=list[DocumentOut])
def list_documents(
    ctx: OperatorCtx,
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
    ctx.record_view(
        "document.page_view",
        obj_type="page",
        obj_id=f"{document_id}/{page_no}",
        document_id=document_id,
        detail={"view": view},
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


batches_router = APIRouter(prefix="/batches", tags=["batches"])


@batches_router.get("", response_model=list[BatchOut])
def list_batches(
    ctx: OperatorCtx,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[BatchOut]:
    """受付状況: the organisation's uploads and the documents each became (statuses, no field values)."""
    views = batches.list_batches(ctx.db, limit=limit, offset=offset)
    ctx.record_view("batch.list", detail={"count": len(views), "offset": offset})
    return [BatchOut.of(view) for view in views]


@batches_router.get("/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: str, ctx: OperatorCtx) -> BatchOut:
    view = batches.get_batch(ctx.db, batch_id=batch_id)
    ctx.record_view("batch.view", obj_type="batch", obj_id=batch_id)
    return BatchOut.of(view)
