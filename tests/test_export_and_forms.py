"""CSV export bytes, and form versioning rules."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.forms.service import ImmutableFormError, publish_form_version
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import login, make_form, make_org, make_user, simple_layout
from tests.helpers import make_confirmed_document


def test_csv_is_cp932_with_crlf_in_layout_order(
    client: TestClient, db: Session, store: LocalBlobStore
) -> None:
    """GIVEN a confirmed document WHEN exported THEN CP932 bytes, CRLF rows, headers = labels in layout order."""
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store)
    document = make_confirmed_document(
        db, user=user, form=form, store=store, values={"agree": True, "name": "髙橋 𠮷"[:2]}
    )
    db.commit()
    login(client, user)
    response = client.post("/api/v1/forms/simple/export.csv")
    assert response.status_code == 200
    assert "windows-31j" in response.headers["content-type"]
    text = response.content.decode("cp932")
    lines = text.split("\r\n")
    assert lines[0] == "文書ID,氏名,同意"
    assert lines[1] == f"{document.id},髙橋,1"
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    set_scope(db, SYSTEM_SCOPE)
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "export.csv"))
    assert event is not None and event.detail["rows"] == 1


def test_unencodable_value_names_document_and_field(
    client: TestClient, db: Session, store: LocalBlobStore
) -> None:
    """GIVEN a value with 𠮷 (in no legacy code page) WHEN exporting CP932 THEN 422 naming field and character."""
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store)
    document = make_confirmed_document(
        db, user=user, form=form, store=store, values={"name": "𠮷田", "agree": False}
    )
    db.commit()
    login(client, user)
    response = client.post("/api/v1/forms/simple/export.csv")
    assert response.status_code == 422
    message = response.json()["detail"]["message"]
    assert document.id in message and "氏名" in message and "𠮷" in message
    utf8 = client.post("/api/v1/forms/simple/export.csv", params={"encoding": "utf-8"})
    assert utf8.status_code == 200 and "𠮷田" in utf8.content.decode("utf-8")


def test_publishing_same_layout_is_idempotent_and_change_makes_new_version(
    db: Session, store: LocalBlobStore
) -> None:
    """GIVEN a published form WHEN the same layout is published again THEN same row; a change → version 2."""
    org = make_org(db)
    first = make_form(db, org, store)
    again = make_form(db, org, store)
    assert again.id == first.id and first.version == 1
    source = simple_layout()
    changed = source.layout.model_copy(update={"title": "テスト様式（改訂）"})
    second = publish_form_version(
        db,
        org_id=org.id,
        source=LayoutSource(layout=changed, template_pdf=source.template_pdf, origin=source.origin),
        store=store,
    )
    assert second.version == 2 and second.id != first.id
    assert FormLayout.model_validate(second.layout).version == 2


def test_published_version_cannot_change(db: Session, store: LocalBlobStore) -> None:
    """GIVEN a published version WHEN its layout is edited in place THEN the flush is refused."""
    form = make_form(db, make_org(db), store)
    form.layout = {**form.layout, "title": "edited"}
    with pytest.raises(ImmutableFormError):
        db.flush()
