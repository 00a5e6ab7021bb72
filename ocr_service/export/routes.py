"""CSV download for core systems, and the organisation's character mapping table."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ocr_service.api.deps import AdminCtx, ReviewerCtx
from ocr_service.export import history, mappings
from ocr_service.export.profile import ExportEncoding
from ocr_service.export.service import export_confirmed_documents

router = APIRouter(tags=["export"])


def _csv_response(content: bytes, *, media_type: str, filename: str, rows: int) -> Response:
    return Response(
        content=content,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
            "X-Export-Rows": str(rows),
        },
    )


@router.post("/forms/{form_code}/export.csv", response_class=Response)
def export_csv(
    form_code: str,
    ctx: ReviewerCtx,
    encoding: Annotated[ExportEncoding | None, Query()] = None,
    extra: Annotated[str, Query(max_length=40, description="batch,pages,received")] = "",
) -> Response:
    """Confirmed documents of the form as CSV (the form's export profile); they become 出力済.

    ``extra`` adds columns after the profile's: batch filename, page range, 受付日時 (JST)."""
    export = export_confirmed_documents(
        ctx.db,
        principal=ctx.principal,
        form_code=form_code,
        encoding=encoding,
        extra=[key for key in extra.split(",") if key],
        store=ctx.runtime.store,
    )
    return _csv_response(
        export.content, media_type=export.media_type, filename=export.filename, rows=export.rows
    )


class ExportRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    form_code: str
    filename: str
    rows: int
    created_at: datetime
    available: bool


@router.get("/exports", response_model=list[ExportRecordOut])
def list_exports(
    ctx: ReviewerCtx, form: Annotated[str | None, Query(max_length=64)] = None
) -> list[ExportRecordOut]:
    records = history.list_exports(ctx.db, form_code=form)
    ctx.record_view("export.list", detail={"form": form, "count": len(records)})
    return [
        ExportRecordOut(
            id=r.id,
            form_code=r.form_code,
            filename=r.filename,
            rows=r.rows,
            created_at=r.created_at,
            available=r.blob_key is not None,
        )
        for r in records
    ]


@router.get("/exports/{export_id}/download", response_class=Response)
def download_export(export_id: str, ctx: ReviewerCtx) -> Response:
    """A past export's file again (audited)."""
    record, content = history.download_export(
        ctx.db, principal=ctx.principal, export_id=export_id, store=ctx.runtime.store
    )
    return _csv_response(content, media_type=record.media_type, filename=record.filename, rows=record.rows)


class CharMappingIn(BaseModel):
    source: str = Field(min_length=1, max_length=2, description="One character, e.g. 𠮷")
    replacement: str = Field(max_length=32, description="May be empty, e.g. to drop a variation selector")
    note: str = Field(default="", max_length=200)


class CharMappingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    replacement: str
    note: str


@router.get("/export/char-mappings", response_model=list[CharMappingOut])
def list_char_mappings(ctx: ReviewerCtx) -> list[CharMappingOut]:
    rows = [CharMappingOut.model_validate(m) for m in mappings.list_char_mappings(ctx.db)]
    ctx.record_view("export.mapping_list", detail={"count": len(rows)})
    return rows


@router.put("/export/char-mappings", response_model=CharMappingOut)
def set_char_mapping(body: CharMappingIn, ctx: AdminCtx) -> CharMappingOut:
    mapping = mappings.set_char_mapping(
        ctx.db, principal=ctx.principal, source=body.source, replacement=body.replacement, note=body.note
    )
    return CharMappingOut.model_validate(mapping)


@router.delete("/export/char-mappings/{mapping_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_char_mapping(mapping_id: int, ctx: AdminCtx) -> None:
    mappings.delete_char_mapping(ctx.db, principal=ctx.principal, mapping_id=mapping_id)
