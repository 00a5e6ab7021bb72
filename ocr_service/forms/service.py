"""Form definition versions: publish, look up, load the layout and template."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.forms.models import FormDefinition
from ocr_service.keys.service import installation_key
from ocr_service.storage.blobs import BlobStore

_IMMUTABLE_COLUMNS = (
    "code",
    "version",
    "layout",
    "template_blob_key",
    "template_sha256",
    "layout_sha256",
    "org_id",
)


class FormNotFoundError(LookupError):
    pass


class ImmutableFormError(ValueError):
    pass


@event.listens_for(FormDefinition, "before_update")
def _refuse_changes_to_published(_mapper: Any, _conn: Any, target: FormDefinition) -> None:
    # A document records the exact version it was read with, so a published version never changes.
    from sqlalchemy import inspect

    state = inspect(target)
    for column in _IMMUTABLE_COLUMNS:
        if state.attrs[column].history.has_changes():
            raise ImmutableFormError(f"form {target.code} v{target.version} is published and cannot change")


def _layout_digest(layout: FormLayout) -> str:
    # Defaults are left out so that a key added to the schema later (rules, export profile, ...)
    # does not change the digest of a layout that does not use it: re-importing a form
    # published earlier stays a no-op instead of minting a new version.
    body = layout.model_dump(mode="json", exclude={"version"}, exclude_defaults=True)
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def publish_form_version(
    db: Session, *, org_id: int, source: LayoutSource, store: BlobStore
) -> FormDefinition:
    """Publish a layout as the next version of its form code; an unchanged layout returns the existing version."""
    layout = source.layout
    layout_sha = _layout_digest(layout)
    template_sha = hashlib.sha256(source.template_pdf).hexdigest()
    latest = db.scalar(
        select(FormDefinition)
        .where(FormDefinition.org_id == org_id, FormDefinition.code == layout.code)
        .order_by(FormDefinition.version.desc())
        .limit(1)
    )
    if latest is not None and latest.layout_sha256 == layout_sha and latest.template_sha256 == template_sha:
        return latest
    next_version = 1 if latest is None else latest.version + 1
    versioned = layout.model_copy(update={"version": next_version})
    form = FormDefinition(
        org_id=org_id,
        code=layout.code,
        version=next_version,
        title=layout.title,
        status="published",
        layout=versioned.model_dump(mode="json"),
        template_blob_key=store.put(source.template_pdf, dek=installation_key(db)),
        template_sha256=template_sha,
        layout_sha256=layout_sha,
        # The personal-data flag belongs to the form, not to one version: a new version keeps it.
        personal_data=latest.personal_data if latest is not None else False,
    )
    db.add(form)
    db.flush()
    return form


def get_latest_form(db: Session, *, code: str) -> FormDefinition:
    """Latest published version of ``code`` within the session's organisation scope."""
    form = db.scalar(
        select(FormDefinition)
        .where(FormDefinition.code == code, FormDefinition.status == "published")
        .order_by(FormDefinition.version.desc())
        .limit(1)
    )
    if form is None:
        raise FormNotFoundError(code)
    return form


def list_latest_forms(db: Session) -> list[FormDefinition]:
    """The newest published version of every form code in scope."""
    rows = db.scalars(
        select(FormDefinition)
        .where(FormDefinition.status == "published")
        .order_by(FormDefinition.code, FormDefinition.version.desc())
    )
    latest: dict[str, FormDefinition] = {}
    for form in rows:
        latest.setdefault(form.code, form)
    return list(latest.values())


def layout_of(form: FormDefinition) -> FormLayout:
    return FormLayout.model_validate(form.layout)


def has_personal_data_forms(db: Session) -> bool:
    """Whether the organisation in scope has a form flagged as holding personal data."""
    return (
        db.scalar(select(FormDefinition.id).where(FormDefinition.personal_data.is_(True)).limit(1))
        is not None
    )
