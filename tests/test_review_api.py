"""Review workflow through the API: optimistic locking, audit of edits, confirmation checks, the queue."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, FieldResult
from ocr_service.documents.sealing import open_audit_values
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.storage.blobs import BlobStore
from tests.factories import login, make_form, make_org, make_user, pdf_bytes
from tests.helpers import make_recognized_document, plain_value


def checked_layout() -> LayoutSource:
    layout = FormLayout.model_validate(
        {
            "code": "checked",
            "title": "確認テスト様式",
            "fields": [
                {"name": "name", "label": "氏名", "box": [100, 100, 300, 130], "required": True},
                {"name": "postal", "label": "郵便番号", "box": [100, 140, 300, 170], "type": "postal"},
                {"name": "born", "label": "生年月日", "box": [100, 180, 300, 210], "type": "date"},
                {"name": "agree", "label": "同意", "box": [100, 220, 115, 235], "type": "checkbox"},
            ],
        }
    )
    return LayoutSource(layout=layout, template_pdf=pdf_bytes(), origin=Path("test"))


def _field(db: Session, document: Document, name: str) -> FieldResult:
    set_scope(db, SYSTEM_SCOPE)
    result = db.scalar(
        select(FieldResult).where(FieldResult.document_id == document.id, FieldResult.field_name == name)
    )
    assert result is not None
    return result


def test_two_reviewers_cannot_silently_overwrite_each_other(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN two reviewers who both loaded a field at version 1
    WHEN A saves first and B then saves with the stale version
    THEN B gets 409 with a Japanese message and A's value, A's value stays, and B can save after seeing it;
    every saved change is audited with old value, new value and who."""
    org = make_org(db)
    user_a, user_b = make_user(db, org), make_user(db, org)
    form = make_form(db, org, store, checked_layout())
    document = make_recognized_document(
        db,
        user=user_a,
        form=form,
        store=store,
        values={"name": "山田", "postal": "1000001"},
        confidences={"name": 0.4},
    )
    field = _field(db, document, "name")
    db.commit()
    second = TestClient(client.app)
    login(client, user_a)
    login(second, user_b)
    url = f"/api/v1/review/documents/{document.id}/fields/{field.id}"
    seen_a = client.get(f"/api/v1/documents/{document.id}").json()["fields"]
    seen_b = second.get(f"/api/v1/documents/{document.id}").json()["fields"]
    version_a = next(f["version"] for f in seen_a if f["id"] == field.id)
    version_b = next(f["version"] for f in seen_b if f["id"] == field.id)
    assert version_a == version_b == 1

    first = client.patch(url, json={"value": "山田太郎", "version": version_a})
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = second.patch(url, json={"value": "山田花子", "version": version_b})
    assert stale.status_code == 409
    detail = stale.json()["detail"]
    assert detail["code"] == "version_conflict" and "他の担当者" in detail["message"]
    assert detail["current"] == {"id": field.id, "value": "山田太郎", "version": 2}
    db.expire_all()
    assert plain_value(db, _field(db, document, "name")) == "山田太郎"

    retry = second.patch(url, json={"value": "山田花子", "version": detail["current"]["version"]})
    assert retry.status_code == 200 and retry.json()["version"] == 3
    events = list(
        db.scalars(select(AuditEvent).where(AuditEvent.action == "review.field_edit").order_by(AuditEvent.id))
    )
    # Personal values are sealed with the document's key (unreadable once it is erased).
    assert all("山田" not in str(e.detail) for e in events)
    opened = [
        open_audit_values(db, document_id=document.id, action=e.action, sealed=e.detail["sealed"]) for e in events
    ]
    assert [(e.user_id, o["old"], o["new"]) for e, o in zip(events, opened, strict=True)] == [
        (user_a.id, "山田", "山田太郎"),
        (user_b.id, "山田太郎", "山田花子"),
    ]


def test_confirm_rechecks_every_field_and_blocks_with_reasons(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN a document with an empty required name, a 6-digit postal code and an unreadable date
    WHEN the reviewer confirms THEN 422 lists each field with its reason and the status stays 要確認;
    after fixing them the document is 確認済, further edits are refused, and the confirm is audited."""
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store, checked_layout())
    document = make_recognized_document(
        db,
        user=user,
        form=form,
        store=store,
        values={"name": "", "postal": "100000", "born": "令和7年13月1日", "agree": True},
    )
    fields = {name: _field(db, document, name) for name in ("name", "postal", "born")}
    db.commit()
    login(client, user)
    blocked = client.post(f"/api/v1/review/documents/{document.id}/confirm")
    assert blocked.status_code == 422
    problems = {p["field"]: p["reason"] for p in blocked.json()["detail"]["problems"]}
    assert problems == {
        "name": "必須項目が空欄です",
        "postal": "郵便番号は7桁です（6桁）",
        "born": "令和7年13月1日は存在しない日付です",
    }
    assert client.get(f"/api/v1/documents/{document.id}").json()["status"] == "recognized"

    for name, value in (("name", "山田太郎"), ("postal", "100-0001"), ("born", "令和7年5月12日")):
        saved = client.patch(
            f"/api/v1/review/documents/{document.id}/fields/{fields[name].id}",
            json={"value": value, "version": 1},
        )
        assert saved.status_code == 200 and saved.json()["reason"] is None, saved.text
    confirmed = client.post(f"/api/v1/review/documents/{document.id}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    late = client.patch(
        f"/api/v1/review/documents/{document.id}/fields/{fields['name'].id}",
        json={"value": "x", "version": 2},
    )
    assert late.status_code == 409 and late.json()["detail"]["code"] == "wrong_status"
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "review.confirm")) is not None


def test_queue_is_oldest_first_with_groups_and_days_left(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN documents uploaded 4 days and 1 day ago (retention 5 days), one of them confirmed
    WHEN the queue is listed THEN oldest first, grouped 要確認 / 確認済, with 1 and 4 days left."""
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store, checked_layout())
    newer = make_recognized_document(db, user=user, form=form, store=store, values={"name": "新"})
    older = make_recognized_document(db, user=user, form=form, store=store, values={"name": "旧"})
    older.created_at = older.created_at - timedelta(days=4)
    newer.created_at = newer.created_at - timedelta(days=1)
    newer.status = "confirmed"
    db.commit()
    login(client, user)
    queue = client.get("/api/v1/review/queue").json()
    assert [(q["id"], q["group"], q["days_left"]) for q in queue] == [
        (older.id, "要確認", 1),
        (newer.id, "確認済", 4),
    ]
    page = client.get("/review")
    assert page.status_code == 200
    assert (
        "あと 1 日" in page.text
        and "確認キュー" in page.text
        and f"/review/documents/{older.id}" in page.text
    )
    confirmed_only = client.get("/review", params={"group": "確認済"}).text
    assert newer.id in confirmed_only and older.id not in confirmed_only


def test_review_screens_render_and_require_login(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN a recognised document WHEN its screen is opened signed out THEN redirect to the login page;
    signed in THEN labels are tied to inputs, the flagged field comes first and the shortcuts are shown."""
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store, checked_layout())
    document = make_recognized_document(
        db,
        user=user,
        form=form,
        store=store,
        values={"name": "山田", "postal": "1000001"},
        confidences={"postal": 0.3},
    )
    postal = _field(db, document, "postal")
    db.commit()
    signed_out = client.get(f"/review/documents/{document.id}", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login?next=")
    assert client.get("/login").status_code == 200
    login(client, user)
    page = client.get(f"/review/documents/{document.id}")
    assert page.status_code == 200
    html = page.text
    assert f'<label for="f-{postal.id}">郵便番号' in html and f'id="f-{postal.id}"' in html
    assert html.index("郵便番号") < html.index("氏名")  # low confidence first
    assert "Ctrl</kbd>+<kbd>Enter" in html and "Alt</kbd>+<kbd>I" in html
    assert client.get("/static/review.js").status_code == 200


def test_document_screen_names_pages_that_were_not_read_as_the_form(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN a document whose page was left unidentified by the worker WHEN the reviewer opens the
    document screen THEN the page's state and the worker's Japanese reason are shown."""
    from ocr_service.documents.models import Page

    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store, checked_layout())
    document = make_recognized_document(db, user=user, form=form, store=store, values={"name": "山田"})
    page = db.scalars(select(Page).where(Page.document_id == document.id)).one()
    page.status, page.reason = "unidentified", "登録済みのどの様式とも一致しません"
    db.commit()
    login(client, user)
    screen = client.get(f"/review/documents/{document.id}")
    assert screen.status_code == 200
    assert "1 ページ目（様式不明）：登録済みのどの様式とも一致しません" in screen.text
