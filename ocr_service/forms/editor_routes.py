"""様式エディタ: admin JSON API under /api/v1/admin/form-drafts and the editor pages under /admin/forms.

Every action is audited; every query goes through the organisation scope (a foreign id is 404).
"""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from ocr_service.admin.nav import register_nav
from ocr_service.api.deps import AdminCtx, RequestContext
from ocr_service.audit.service import audit
from ocr_service.forms import editor
from ocr_service.forms.editor import DraftError
from ocr_service.forms.loader import LayoutError
from ocr_service.forms.models import FormDraft
from ocr_service.forms.service import FormNotFoundError, layout_of, list_latest_forms
from ocr_service.forms.yaml_io import dump_layout_yaml, layout_to_mapping, load_layout_yaml
from ocr_service.review.pages import templates  # the one template set: shared globals and filters

# Its own template loader: the forms package does not import the review package.
api = APIRouter(prefix="/admin/form-drafts", tags=["form editor"])
pages = APIRouter(include_in_schema=False)


def _audit(ctx: RequestContext, action: str, obj_id: str, **detail: Any) -> None:
    audit(ctx.db, ctx.principal, action, obj_type="form_draft", obj_id=obj_id, detail=detail)


def _viewed(ctx: RequestContext, action: str, obj_id: str = "", **detail: Any) -> None:
    """Audit a read (drafts and layouts are the organisation's data too) and commit it."""
    ctx.record_view(
        action,
        obj_type="form_draft" if action.startswith("form_draft") else "form",
        obj_id=obj_id,
        detail=detail,
    )


def _not_found() -> HTTPException:
    return HTTPException(404, detail={"code": "not_found", "message": "様式の下書きが見つかりません。"})


def _refused(exc: DraftError) -> HTTPException:
    return HTTPException(422, detail={"code": "invalid_layout", "message": str(exc), "errors": exc.errors})


def _draft(ctx: RequestContext, draft_id: str) -> FormDraft:
    try:
        return editor.get_draft(ctx.db, draft_id=draft_id)
    except FormNotFoundError:
        raise _not_found() from None


def _out(draft: FormDraft) -> dict[str, Any]:
    return {
        "id": draft.id,
        "code": draft.code,
        "title": draft.title,
        "layout": draft.layout,
        "proposals": draft.proposals.get("fields", []),
        "proposed_rules": draft.proposals.get("cross_field_rules", []),
        "snap": draft.proposals.get("snap", {}),
        "pages": int(draft.layout.get("pages", 1)),
    }


@api.get("")
def list_drafts(ctx: AdminCtx) -> list[dict[str, Any]]:
    """The organisation's drafts, newest first (id, code, title, fields accepted, proposals left)."""
    drafts = editor.list_drafts(ctx.db)
    _viewed(ctx, "form_draft.list", count=len(drafts))
    return [
        {
            "id": d.id,
            "code": d.code,
            "title": d.title,
            "fields": len(d.layout.get("fields", [])),
            "proposals": len(d.proposals.get("fields", [])),
            "created_at": d.created_at.isoformat(),
        }
        for d in drafts
    ]


@api.post("")
def create_draft(ctx: AdminCtx, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    # A plain def: proposing (rendering, PP-OCR on a scan) runs in the thread pool, not on the event loop.
    data = file.file.read(editor.MAX_TEMPLATE_BYTES + 1)
    try:
        draft = editor.create_draft_from_template(
            ctx.db,
            org_id=ctx.principal.org_id,
            user_id=ctx.principal.user_id,
            template_pdf=data,
            filename=file.filename or "form.pdf",
            store=ctx.runtime.store,
        )
    except DraftError as exc:
        raise _refused(exc) from None
    _audit(ctx, "form_draft.create", draft.id, proposals=len(draft.proposals["fields"]))
    ctx.db.commit()
    return _out(draft)


@api.post("/from-form")
def draft_from_form(ctx: AdminCtx, code: Annotated[str, Form(max_length=64)]) -> dict[str, Any]:
    try:
        draft = editor.create_draft_from_form(
            ctx.db,
            org_id=ctx.principal.org_id,
            user_id=ctx.principal.user_id,
            code=code,
            store=ctx.runtime.store,
        )
    except FormNotFoundError:
        raise HTTPException(404, detail={"code": "not_found", "message": "様式が見つかりません。"}) from None
    _audit(ctx, "form_draft.open", draft.id, code=code)
    ctx.db.commit()
    return _out(draft)


@api.get("/{draft_id}")
def get_draft(ctx: AdminCtx, draft_id: str) -> dict[str, Any]:
    draft = _draft(ctx, draft_id)
    _viewed(ctx, "form_draft.view", draft.id)
    return _out(draft)


@api.get("/{draft_id}/pages/{page}.png")
def page_image(ctx: AdminCtx, draft_id: str, page: int) -> Response:
    from pdf2image import convert_from_bytes

    draft = _draft(ctx, draft_id)
    pdf = editor.draft_template(ctx.db, draft=draft, store=ctx.runtime.store)
    if not 1 <= page <= int(draft.layout.get("pages", 1)):
        raise _not_found()
    image = convert_from_bytes(pdf, dpi=100, first_page=page, last_page=page, timeout=60)[0]
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="PNG")
    _viewed(ctx, "form_draft.page_view", draft.id, page=page)
    return Response(
        buffer.getvalue(), media_type="image/png", headers={"Cache-Control": "private, max-age=300"}
    )


class SaveIn(BaseModel):
    layout: dict[str, Any]
    proposals: list[dict[str, Any]] | None = Field(default=None, description="Proposals still undecided")


@api.put("/{draft_id}")
def save_draft(ctx: AdminCtx, draft_id: str, body: SaveIn) -> dict[str, Any]:
    draft = _draft(ctx, draft_id)
    try:
        editor.save_draft(ctx.db, draft=draft, layout=body.layout, proposals=body.proposals)
    except DraftError as exc:
        raise _refused(exc) from None
    _audit(ctx, "form_draft.save", draft.id, fields=len(draft.layout.get("fields", [])))
    ctx.db.commit()
    return _out(draft)


@api.get("/{draft_id}/yaml")
def export_yaml(ctx: AdminCtx, draft_id: str) -> Response:
    draft = _draft(ctx, draft_id)
    try:
        layout = editor.validated_layout(draft.layout)
    except DraftError as exc:
        raise _refused(exc) from None
    _audit(ctx, "form_draft.export_yaml", draft.id)
    ctx.db.commit()
    return Response(
        dump_layout_yaml(layout),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{layout.code}.yaml"'},
    )


@api.post("/{draft_id}/yaml")
async def import_yaml(ctx: AdminCtx, draft_id: str, request: Request) -> dict[str, Any]:
    draft = _draft(ctx, draft_id)
    text = (await request.body())[:2_000_000].decode("utf-8", errors="replace")
    try:
        layout = load_layout_yaml(text, origin="form.yaml")
    except LayoutError as exc:
        raise HTTPException(
            422, detail={"code": "invalid_layout", "message": f"YAMLを取り込めません：{exc}", "errors": []}
        ) from None
    mapping = layout_to_mapping(layout)
    mapping.pop("template", None)
    editor.save_draft(ctx.db, draft=draft, layout=mapping, proposals=[])
    _audit(ctx, "form_draft.import_yaml", draft.id, fields=len(layout.fields))
    ctx.db.commit()
    return _out(draft)


@api.get("/{draft_id}/check.png")
def check_picture(ctx: AdminCtx, draft_id: str) -> Response:
    from ocr_service.forms.preview import render_layout_preview

    draft = _draft(ctx, draft_id)
    try:
        layout = editor.validated_layout(draft.layout)
    except DraftError as exc:
        raise _refused(exc) from None
    png = render_layout_preview(layout, editor.draft_template(ctx.db, draft=draft, store=ctx.runtime.store))
    _audit(ctx, "form_draft.check", draft.id)
    ctx.db.commit()
    return Response(png, media_type="image/png")


@api.post("/{draft_id}/trial")
def trial(ctx: AdminCtx, draft_id: str, n: Annotated[int, Query(ge=1, le=20)] = 2) -> dict[str, Any]:
    """試し読み: fill the layout with random values in handwriting fonts, read it back, per-field accuracy."""
    from workers.pipeline.trial import run_synthetic_trial
    from workers.runtime import recognizer_from_settings, second_opinion_from_settings

    draft = _draft(ctx, draft_id)
    try:
        layout = editor.validated_layout(draft.layout)
    except DraftError as exc:
        raise _refused(exc) from None
    cfg = ctx.runtime.settings
    try:
        recognizer = recognizer_from_settings(cfg)
        result = run_synthetic_trial(
            layout,
            editor.draft_template(ctx.db, draft=draft, store=ctx.runtime.store),
            recognizer=recognizer,
            second_opinion=second_opinion_from_settings(cfg, recognizer),
            n=n,
            seed=0,
            dpi=cfg.raster_dpi,
            threshold=cfg.confidence_threshold,
        )
    except FileNotFoundError as exc:  # no handwriting font installed on this server
        raise HTTPException(
            422, detail={"code": "trial_unavailable", "message": f"試し読みができません：{exc}", "errors": []}
        ) from None
    except ValueError as exc:  # e.g. rules no value can satisfy
        raise HTTPException(
            422,
            detail={"code": "trial_failed", "message": f"試し読みの見本を作れません：{exc}", "errors": []},
        ) from None
    result["failed_fields"] = [row["field"] for row in result["fields"] if row["field_acc"] < 1.0]
    _audit(ctx, "form_draft.trial", draft.id, n=n, field_acc=result["field_acc"])
    ctx.db.commit()
    return result


@api.post("/{draft_id}/publish")
def publish(ctx: AdminCtx, draft_id: str) -> dict[str, Any]:
    draft = _draft(ctx, draft_id)
    try:
        form, created = editor.publish_draft(
            ctx.db, draft=draft, org_id=ctx.principal.org_id, store=ctx.runtime.store
        )
    except DraftError as exc:
        raise _refused(exc) from None
    # An unchanged layout publishes no new version; the attempt is audited all the same.
    _audit(
        ctx,
        "form.publish" if created else "form.publish_unchanged",
        form.id,
        code=form.code,
        version=form.version,
        draft=draft.id,
    )
    ctx.db.commit()
    return {"code": form.code, "version": form.version, "created": created, "form_id": form.id}


forms_api = APIRouter(prefix="/admin/forms", tags=["form editor"])


@forms_api.get("")
def list_forms(ctx: AdminCtx) -> list[dict[str, Any]]:
    forms = list_latest_forms(ctx.db)
    _viewed(ctx, "form.editor_list", count=len(forms))
    return [{"code": f.code, "version": f.version, "title": f.title} for f in forms]


@forms_api.get("/{code}/versions")
def versions(ctx: AdminCtx, code: str) -> list[dict[str, Any]]:
    try:
        rows = editor.list_versions(ctx.db, code=code)
    except FormNotFoundError:
        raise HTTPException(404, detail={"code": "not_found", "message": "様式が見つかりません。"}) from None
    _viewed(ctx, "form.versions_view", code=code)
    return [
        {
            "version": f.version,
            "title": f.title,
            "fields": len(f.layout.get("fields", [])),
            "created_at": f.created_at.isoformat(),
        }
        for f in rows
    ]


@forms_api.get("/{code}/diff")
def diff(
    ctx: AdminCtx, code: str, old: Annotated[int, Query(ge=1)], new: Annotated[int, Query(ge=1)]
) -> dict[str, Any]:
    try:
        rows = {f.version: f for f in editor.list_versions(ctx.db, code=code)}
    except FormNotFoundError:
        rows = {}
    if old not in rows or new not in rows:
        raise HTTPException(404, detail={"code": "not_found", "message": "指定の版が見つかりません。"})
    _viewed(ctx, "form.diff_view", code=code, old=old, new=new)
    return {
        "code": code,
        "old": old,
        "new": new,
        "changes": editor.box_diff(layout_of(rows[old]), layout_of(rows[new])),
    }


register_nav("/admin/forms", "様式エディタ", role="admin", order=45)


@pages.get("/admin/forms", response_class=HTMLResponse)
def editor_home(request: Request, ctx: AdminCtx) -> Response:
    _viewed(ctx, "form_editor.view")
    return templates.TemplateResponse(
        request, "admin/form_editor.html", {"principal": ctx.principal, "draft_id": ""}
    )


@pages.get("/admin/forms/drafts/{draft_id}", response_class=HTMLResponse)
def editor_page(request: Request, ctx: AdminCtx, draft_id: str) -> Response:
    draft = _draft(ctx, draft_id)
    _viewed(ctx, "form_draft.view", draft.id)
    return templates.TemplateResponse(
        request, "admin/form_editor.html", {"principal": ctx.principal, "draft_id": draft.id}
    )
