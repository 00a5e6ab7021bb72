"""CSV download for core systems."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Response

from ocr_service.api.deps import ReviewerCtx
from ocr_service.audit.service import record_audit_event
from ocr_service.export.service import CsvEncoding, build_form_csv

router = APIRouter(prefix="/forms", tags=["export"])


@router.get("/{form_code}/export.csv", response_class=Response)
def export_csv(
    form_code: str, ctx: ReviewerCtx, encoding: Annotated[CsvEncoding, Query()] = "cp932"
) -> Response:
    export = build_form_csv(ctx.db, form_code=form_code, encoding=encoding)
    record_audit_event(
        ctx.db,
        action="export.csv",
        org_id=ctx.principal.org_id,
        user_id=ctx.principal.user_id,
        object_type="form",
        object_id=form_code,
        detail={"rows": export.rows, "encoding": encoding, "documents": export.document_ids},
    )
    ctx.db.commit()
    charset = "windows-31j" if encoding == "cp932" else "utf-8"
    return Response(
        content=export.content,
        media_type=f"text/csv; charset={charset}",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(export.filename)}",
            "Cache-Control": "no-store",
        },
    )
