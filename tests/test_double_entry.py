"""Double entry (読み合わせ): blind second entry by another reviewer, arbitration of disagreements."""

from __future__ import annotations

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


def double_entry_layout() -> LayoutSource:
    layout = FormLayout.model_validate(
        {
            "code": "kakunin",
            "title": "読み合わせ様式",
            "review": {"double_entry": True},
            "fields": [
                {"name": "name", "label": "氏名", "box": [100, 100, 300, 130]},
                {"name": "amount", "label": "金額", "box": [100, 140, 300, 170], "type": "digits"},
                {"name": "note", "label": "備考", "box": [100, 180, 300, 210]},
            ],
        }
    )
    return LayoutSource(layout=layout, template_pdf=pdf_bytes(), origin=Path("test"))


def _setup(db: Session, store: BlobStore) -> tuple[Document, dict[str, FieldResult], list[object]]:
    org = make_org(db)
    first, second, third = (make_user(db, org) for _ in range(3))
    admin = make_user(db, org, role="admin")
    form = make_form(db, org, store, double_entry_layout())
    document = make_recognized_document(
        db,
        user=first,
        form=form,
        store=store,
        values={"name": "山田", "amount": "1200", "note": "なし"},
        confidences={"name": 0.5, "amount": 0.6},
    )
    set_scope(db, SYSTEM_SCOPE)
    results = {
        r.field_name: r for r in db.scalars(select(FieldResult).where(FieldResult.document_id == document.id))
    }
    db.commit()
    return document, results, [first, second, third, admin]


def _first_review(client: TestClient, document: Document, results: dict[str, FieldResult]) -> None:
    """The first reviewer looks at (accepts with Enter) both flagged fields, as confirm requires."""
    for name, value in (("name", "山田"), ("amount", "1200")):
        accepted = client.patch(
            f"/api/v1/review/documents/{document.id}/fields/{results[name].id}",
            json={"value": value, "version": results[name].version},
        )
        assert accepted.status_code == 200, accepted.text


def test_disagreement_goes_to_an_arbiter(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN a form with double entry and two flagged fields, confirmed by reviewer 1
    WHEN reviewer 1 tries the blind entry THEN refused; reviewer 2 sees only the flagged fields without values,
    types one differently → 裁定待ち; reviewer 2 may not arbitrate, the admin sees both values, decides,
    and the document is 確認済 with the decided value, audited."""
    document, results, (first, second, _third, admin) = _setup(db, store)
    base = f"/api/v1/review/documents/{document.id}"
    login(client, first)  # type: ignore[arg-type]
    _first_review(client, document, results)
    assert client.post(f"{base}/confirm").json()["status"] == "double_entry"
    same = client.get(f"{base}/blind-entry")
    assert same.status_code == 409 and same.json()["detail"]["code"] == "same_reviewer"
    screen = client.get(f"/review/documents/{document.id}/blind-entry")
    assert screen.status_code == 409 and "別の担当者" in screen.text and "<html" in screen.text

    login(client, second)  # type: ignore[arg-type]
    fields = client.get(f"{base}/blind-entry").json()
    assert sorted(f["field_name"] for f in fields) == ["amount", "name"]
    assert all("value" not in f for f in fields)
    page = client.get(f"/review/documents/{document.id}/blind-entry").text
    assert "山田" not in page and "1200" not in page  # blind: the first values are not on the screen
    incomplete = client.post(f"{base}/blind-entry", json={"values": {results["name"].id: "山田"}})
    assert incomplete.status_code == 409 and "金額" in incomplete.json()["detail"]["message"]
    typed = {results["name"].id: "山田", results["amount"].id: "1300"}
    assert client.post(f"{base}/blind-entry", json={"values": typed}).json()["status"] == "arbitration"
    assert client.get(f"{base}/arbitration").status_code == 409

    login(client, admin)  # type: ignore[arg-type]
    items = client.get(f"{base}/arbitration").json()
    assert items == [
        {
            "id": results["amount"].id,
            "field_name": "amount",
            "label": "金額",
            "first_value": "1200",
            "blind_value": "1300",
        }
    ]
    decided = client.post(f"{base}/arbitration", json={"values": {results["amount"].id: "1300"}})
    assert decided.status_code == 200 and decided.json()["status"] == "confirmed"
    db.expire_all()
    set_scope(db, SYSTEM_SCOPE)
    assert plain_value(db, db.get(FieldResult, results["amount"].id)) == "1300"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "review.arbitrate"))
    assert event is not None and event.user_id == admin.id  # type: ignore[attr-defined]
    assert "1200" not in str(event.detail) and event.detail["fields"] == ["amount"]
    opened = open_audit_values(db, document_id=document.id, action=event.action, sealed=event.detail["sealed"])
    assert opened["changes"] == [{"field": "amount", "old": "1200", "blind": "1300", "new": "1300"}]


def test_agreement_confirms_and_a_third_reviewer_may_arbitrate(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN double entry WHEN the blind values agree (up to width) THEN 確認済 at once;
    on a second document with a disagreement a reviewer who typed neither value may arbitrate."""
    document, results, (first, second, third, _admin) = _setup(db, store)
    base = f"/api/v1/review/documents/{document.id}"
    login(client, first)  # type: ignore[arg-type]
    _first_review(client, document, results)
    client.post(f"{base}/confirm")
    login(client, second)  # type: ignore[arg-type]
    typed = {results["name"].id: "山田", results["amount"].id: "１２００"}
    assert client.post(f"{base}/blind-entry", json={"values": typed}).json()["status"] == "confirmed"

    other, other_results, (first, second, third, _admin) = _setup(db, store)
    base = f"/api/v1/review/documents/{other.id}"
    login(client, first)  # type: ignore[arg-type]
    _first_review(client, other, other_results)
    client.post(f"{base}/confirm")
    login(client, second)  # type: ignore[arg-type]
    client.post(
        f"{base}/blind-entry",
        json={"values": {other_results["name"].id: "山口", other_results["amount"].id: "1200"}},
    )
    login(client, third)  # type: ignore[arg-type]
    decided = client.post(f"{base}/arbitration", json={"values": {other_results["name"].id: "山口"}})
    assert decided.status_code == 200 and decided.json()["status"] == "confirmed"


def test_blind_reviewer_cannot_read_the_first_entry_on_any_route(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN a document waiting for its blind entry, the first reviewer having corrected 山田 → 山本
    WHEN the second reviewer asks the document API, the document screen, the blind-entry API and screen,
    the queue API and the batch list THEN neither the machine reading nor the first entry appears anywhere;
    the first reviewer still sees the values (so the check is real)."""
    document, results, (first, second, _third, _admin) = _setup(db, store)
    base = f"/api/v1/review/documents/{document.id}"
    login(client, first)  # type: ignore[arg-type]
    _first_review(client, document, results)
    corrected = client.patch(
        f"{base}/fields/{results['name'].id}", json={"value": "山本", "version": results["name"].version + 1}
    )
    assert corrected.status_code == 200, corrected.text
    assert client.post(f"{base}/confirm").json()["status"] == "double_entry"
    own = client.get(f"/api/v1/documents/{document.id}").text
    assert "山本" in own and "1200" in own

    login(client, second)  # type: ignore[arg-type]
    secrets = ("山田", "山本", "1200")
    detail = client.get(f"/api/v1/documents/{document.id}")
    assert detail.status_code == 200 and {f["value"] for f in detail.json()["fields"]} == {""}
    screen = client.get(f"/review/documents/{document.id}")  # redirected to the blind entry screen
    assert screen.status_code == 200 and "blind-form" in screen.text
    for response in (
        detail,
        screen,
        client.get(f"{base}/blind-entry"),
        client.get(f"/review/documents/{document.id}/blind-entry"),
        client.get("/api/v1/review/queue"),
        client.get("/review"),
        client.get("/api/v1/batches"),
    ):
        assert response.status_code == 200, response.url
        for secret in secrets:
            assert secret not in response.text, (response.url, secret)
