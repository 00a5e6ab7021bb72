"""様式エディタ service: drafts from a blank template (with proposals) or a published form, save, publish, diff."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.forms.messages import field_errors
from ocr_service.forms.models import FormDefinition, FormDraft
from ocr_service.forms.service import FormNotFoundError, get_latest_form, layout_of, publish_form_version
from ocr_service.keys.service import installation_key
from ocr_service.storage.blobs import BlobStore

MAX_TEMPLATE_BYTES = 20 * 1024 * 1024


class DraftError(ValueError):
    """A draft action refused; ``errors`` name the fields (Japanese)."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def create_draft_from_template(
    db: Session, *, org_id: int, user_id: int | None, template_pdf: bytes, filename: str, store: BlobStore
) -> FormDraft:
    """Propose the fields of a blank template and keep them as a draft (nothing accepted yet)."""
    from ocr_service.documents.pdfcheck import PdfRejectedError, inspect_pdf
    from ocr_service.forms.propose import MAX_PAGES, propose_template
    from ocr_service.forms.propose.output import code_from_filename, to_layout

    try:
        # The upload's own checks: the same files are refused with the same Japanese reasons.
        inspect_pdf(template_pdf, max_bytes=MAX_TEMPLATE_BYTES, max_pages=MAX_PAGES)
    except PdfRejectedError as exc:
        raise DraftError(exc.reason) from None
    try:
        proposed = propose_template(template_pdf)
    except Exception as exc:  # a broken or hostile PDF: say so, keep nothing
        raise DraftError(f"PDFを読めませんでした（{type(exc).__name__}）。") from exc
    code = code_from_filename(Path(filename).stem or "form")
    layout = to_layout(proposed, code=code) if proposed.fields else None
    specs = [f.model_dump(mode="json", exclude_none=True) for f in layout.fields] if layout else []
    mapping: dict[str, Any] = {
        "code": code,
        "title": proposed.title or code,
        "version": 1,
        "page_size_pt": list(proposed.page_size_pt),
        "pages": proposed.pages,
        "fields": [],
        "cross_field_rules": [],
    }
    draft = FormDraft(
        org_id=org_id,
        code=code,
        title=mapping["title"],
        # Templates are the installation's, not a document's: the installation key encrypts them.
        template_blob_key=store.put(template_pdf, dek=installation_key(db)),
        template_sha256=hashlib.sha256(template_pdf).hexdigest(),
        layout=mapping,
        proposals={
            "fields": specs,
            "cross_field_rules": [
                r.model_dump(mode="json") for r in (layout.cross_field_rules if layout else [])
            ],
            "snap": {str(page): lines for page, lines in proposed.snap.items()},
        },
        created_by=user_id,
    )
    db.add(draft)
    db.flush()
    return draft


def create_draft_from_form(
    db: Session, *, org_id: int, user_id: int | None, code: str, store: BlobStore
) -> FormDraft:
    """A draft holding the latest published version of ``code`` (to edit it into version N+1)."""
    from ocr_service.forms.propose import rule_lines

    form = get_latest_form(db, code=code)
    layout = layout_of(form)
    snap = rule_lines(store.get(form.template_blob_key, dek=installation_key(db)))
    draft = FormDraft(
        org_id=org_id,
        code=form.code,
        title=form.title,
        template_blob_key=form.template_blob_key,
        template_sha256=form.template_sha256,
        layout=layout.model_dump(mode="json", exclude_defaults=True)
        | {
            "code": layout.code,
            "title": layout.title,
            "version": layout.version,
            "fields": layout.model_dump(mode="json")["fields"],
        },
        proposals={"fields": [], "cross_field_rules": [], "snap": {str(p): v for p, v in snap.items()}},
        created_by=user_id,
    )
    db.add(draft)
    db.flush()
    return draft


def get_draft(db: Session, *, draft_id: str) -> FormDraft:
    # A query (not db.get): the organisation scope filters it, so another org's id is simply not found.
    draft = db.scalar(select(FormDraft).where(FormDraft.id == draft_id))
    if draft is None:
        raise FormNotFoundError(draft_id)
    return draft


def draft_template(db: Session, *, draft: FormDraft, store: BlobStore) -> bytes:
    """The draft's template PDF (decrypted with the installation key, like published templates)."""
    return store.get(draft.template_blob_key, dek=installation_key(db))


def list_drafts(db: Session, *, limit: int = 100) -> list[FormDraft]:
    return list(db.scalars(select(FormDraft).order_by(FormDraft.created_at.desc()).limit(limit)))


def validated_layout(mapping: dict[str, Any]) -> FormLayout:
    """The layout of an editor mapping, or :class:`DraftError` with every problem named in Japanese."""
    if not mapping.get("fields"):
        raise DraftError(
            "項目が1つもありません。候補を採用するか、枠を描いてください。",
            [{"field": "", "message": "項目が1つもありません"}],
        )
    errors = field_errors(mapping)
    if errors:
        raise DraftError(errors[0]["message"], errors)
    return FormLayout.model_validate(mapping)


def save_draft(
    db: Session, *, draft: FormDraft, layout: dict[str, Any], proposals: list[dict[str, Any]] | None
) -> FormDraft:
    """Replace the draft's layout (validated; an empty field list is allowed while editing)."""
    body = {k: v for k, v in layout.items() if k not in ("template", "$schema")}
    if body.get("fields"):
        parsed = validated_layout(body)
        body = parsed.model_dump(mode="json", exclude_defaults=True) | {
            "code": parsed.code,
            "title": parsed.title,
            "version": parsed.version,
            "fields": [f.model_dump(mode="json", exclude_defaults=True) for f in parsed.fields],
        }
    draft.layout = body
    draft.code = str(body.get("code") or draft.code)
    draft.title = str(body.get("title") or draft.title)
    if proposals is not None:
        draft.proposals = {**draft.proposals, "fields": proposals}
    db.flush()
    return draft


def publish_draft(
    db: Session, *, draft: FormDraft, org_id: int, store: BlobStore
) -> tuple[FormDefinition, bool]:
    """Publish the draft as the next version; ``(form, False)`` when it equals the latest (no-op)."""
    layout = validated_layout(draft.layout)
    before = db.scalar(
        select(FormDefinition.id)
        .where(FormDefinition.code == layout.code)
        .order_by(FormDefinition.version.desc())
        .limit(1)
    )
    source = LayoutSource(
        layout=layout, template_pdf=draft_template(db, draft=draft, store=store), origin=Path("editor")
    )
    form = publish_form_version(db, org_id=org_id, source=source, store=store)
    return form, form.id != before


def list_versions(db: Session, *, code: str) -> list[FormDefinition]:
    rows = list(
        db.scalars(select(FormDefinition).where(FormDefinition.code == code).order_by(FormDefinition.version))
    )
    if not rows:
        raise FormNotFoundError(code)
    return rows


def box_diff(old: FormLayout, new: FormLayout) -> list[dict[str, Any]]:
    """Per field: added, removed, moved (box changed) or changed (other settings), between two versions."""
    a = {f.name: f for f in old.fields}
    b = {f.name: f for f in new.fields}
    changes: list[dict[str, Any]] = []
    for name in list(a) + [n for n in b if n not in a]:
        fa, fb = a.get(name), b.get(name)
        if fa is None and fb is not None:
            changes.append(
                {
                    "field": name,
                    "label": fb.label,
                    "change": "added",
                    "box_new": list(fb.box),
                    "page": fb.page,
                }
            )
        elif fb is None and fa is not None:
            changes.append(
                {
                    "field": name,
                    "label": fa.label,
                    "change": "removed",
                    "box_old": list(fa.box),
                    "page": fa.page,
                }
            )
        elif fa is not None and fb is not None:
            if fa.box != fb.box:
                changes.append(
                    {
                        "field": name,
                        "label": fb.label,
                        "change": "moved",
                        "box_old": list(fa.box),
                        "box_new": list(fb.box),
                        "page": fb.page,
                    }
                )
            elif fa != fb:
                changes.append(
                    {
                        "field": name,
                        "label": fb.label,
                        "change": "changed",
                        "box_new": list(fb.box),
                        "page": fb.page,
                    }
                )
    return changes
