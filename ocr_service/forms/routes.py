"""Read-only form list (the form editor comes with the layout issue)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ocr_service.api.deps import OperatorCtx
from ocr_service.forms.service import list_latest_forms

router = APIRouter(prefix="/forms", tags=["forms"])


class FormOut(BaseModel):
    id: str
    code: str
    version: int
    title: str
    fields: int


@router.get("", response_model=list[FormOut])
def list_forms(ctx: OperatorCtx) -> list[FormOut]:
    forms = [
        FormOut(
            id=f.id, code=f.code, version=f.version, title=f.title, fields=len(f.layout.get("fields", []))
        )
        for f in list_latest_forms(ctx.db)
    ]
    ctx.record_view("form.list", detail={"count": len(forms)})
    return forms
