"""CSV download for core systems, and the organisation's character mapping table."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ocr_service.api.deps import AdminCtx, ReviewerCtx
from ocr_service.export import mappings
from ocr_service.export.profile import ExportEncoding
from ocr_service.export.service import export_confirmed_documents

router = APIRouter(tags=["export"])


@router.post("/forms/{form_code}/export.csv", response_class=Response)
def export_csv(
    form_code: str, ctx: ReviewerCtx, encoding: Annotated[ExportEncoding | None, Query()] = None
) -> Response:
    """Confirmed documents of the form as CSV (the form's export profile); they become 出力済."""
    export = export_confirmed_documents(
        ctx.db, principal=ctx.principal, form_code=form_code, encoding=encoding
    )
    return Response(
        content=export.content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(export.filename)}",
            "Cache-Control": "no-store",
            "X-Export-Rows": str(export.rows),
        },
    )


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
