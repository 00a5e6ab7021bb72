"""Issue 10 review rules: confirm needs every flagged field seen, audited 一括確定, soft-claimed 次の文書,
operators' view without values, 様式不明 decisions, CSV injection and past exports."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.audit.models import AuditEvent
from ocr_service.auth.service import Principal
from ocr_service.db.base import utcnow
from ocr_service.db.scoping import SYSTEM_SCOPE, OrgScope, set_scope
from ocr_service.documents.models import Document, FieldResult
from ocr_service.documents.processing import ensure_pages, save_page_reading
from ocr_service.documents.sealing import AUDIT_SEALED_KEY, open_audit_values
from ocr_service.documents.status import DocumentStatus, transition_document
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.review.queue import claim_next_document
from ocr_service.storage.blobs import BlobStore
from tests.factories import login, make_form, make_org, make_user, pdf_bytes
from tests.helpers import make_recognized_document, png
from tests.support.live_server import truncate_all
from workers.pipeline.types import FieldReading, PageReading


def _fields(db: Session, document: Document) -> dict[str, FieldResult]:
    set_scope(db, SYSTEM_SCOPE)
    return {
        r.field_name: r for r in db.scalars(select(FieldResult).where(FieldResult.document_id == document.id))
    }


def test_confirm_refuses_while_a_flagged_field_is_unseen(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN a document whose name was read with low confidence WHEN the reviewer confirms without looking
    THEN 422 naming 氏名 and the document stays 要確認; after Enter on it (accept, same value) THEN 確認済."""
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store)
    document = make_recognized_document(
        db,
        user=user,
        form=form,
        store=store,
        values={"name": "ふくまみく", "agree": True},
        confidences={"name": 0.4},
    )
    fields = _fields(db, document)
    db.commit()
    login(client, user)
    base = f"/api/v1/review/documents/{document.id}"
    refused = client.post(f"{base}/confirm")
    assert refused.status_code == 422 and refused.json()["detail"]["code"] == "unseen_fields"
    assert [f["label"] for f in refused.json()["detail"]["fields"]] == ["氏名"]
    assert client.get(f"/api/v1/documents/{document.id}").json()["status"] == "recognized"
    accepted = client.patch(f"{base}/fields/{fields['name'].id}", json={"value": "ふくまみく", "version": 1})
    assert accepted.status_code == 200
    assert client.post(f"{base}/confirm").json()["status"] == "confirmed"


def test_bulk_confirm_is_for_admins_and_audited_with_the_unseen_fields(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN a document with one unseen low-confidence field WHEN a reviewer uses 一括確定 THEN refused;
    WHEN an admin does THEN 確認済 and the audit event lists the unseen field with its value."""
    org = make_org(db)
    reviewer, admin = make_user(db, org), make_user(db, org, role="admin")
    form = make_form(db, org, store)
    document = make_recognized_document(
        db,
        user=reviewer,
        form=form,
        store=store,
        values={"name": "よしむら", "agree": True},
        confidences={"name": 0.3},
    )
    fields = _fields(db, document)
    db.commit()
    base = f"/api/v1/review/documents/{document.id}"
    login(client, reviewer)
    refused = client.post(f"{base}/confirm", json={"bulk": True})
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "bulk_forbidden"
    login(client, admin)
    assert client.post(f"{base}/confirm", json={"bulk": True}).json()["status"] == "confirmed"
    set_scope(db, SYSTEM_SCOPE)
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "review.bulk_confirm"))
    assert event is not None and event.object_id == document.id and event.user_id == admin.id
    assert event.detail["unseen"] == [{"id": fields["name"].id, "field": "name"}]
    sealed = event.detail[AUDIT_SEALED_KEY]
    assert "よしむら" not in str(event.detail)  # the value is in the event, but only sealed
    assert open_audit_values(db, document_id=document.id, action="review.bulk_confirm", sealed=sealed) == {
        "name": "よしむら"
    }


def test_next_document_gives_two_reviewers_different_documents(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN two documents waiting WHEN reviewer 1 and reviewer 2 press 次の文書 THEN they get different ones;
    pressing again keeps one's own; a third press by reviewer 3 finds none; after a claim expires it is free."""
    org = make_org(db)
    users = [make_user(db, org) for _ in range(3)]
    form = make_form(db, org, store)
    docs = [
        make_recognized_document(db, user=users[0], form=form, store=store, values={"name": n, "agree": True})
        for n in ("一", "二")
    ]
    db.commit()
    got = []
    for user in users[:2]:
        login(client, user)
        answer = client.post("/api/v1/review/next")
        assert answer.status_code == 200 and answer.json()["next_url"].endswith(answer.json()["id"])
        got.append(answer.json()["id"])
    assert sorted(got) == sorted(d.id for d in docs)
    assert client.post("/api/v1/review/next").json()["id"] == got[1]  # still reviewer 2's own
    login(client, users[2])
    assert client.post("/api/v1/review/next").json() is None
    screen = client.get("/review/next", follow_redirects=False)
    assert screen.status_code == 303 and screen.headers["location"] == "/review?done=1"
    queue = {q["id"]: q for q in client.get("/api/v1/review/queue").json()}
    assert all(queue[d.id]["claimed_by_other"] for d in docs)
    set_scope(db, SYSTEM_SCOPE)
    db.get_one(Document, got[0]).claim_expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert client.post("/api/v1/review/next").json()["id"] == got[0]


def test_next_document_under_a_real_race_never_hands_one_document_to_two(
    engine: Engine, store: BlobStore
) -> None:
    """GIVEN 3 committed documents and 6 reviewers WHEN all press 次の文書 at the same instant (threads,
    own connections) THEN exactly 3 get a document, all different, and 3 get none."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        with factory() as db:
            org = make_org(db)
            users = [make_user(db, org) for _ in range(6)]
            form = make_form(db, org, store)
            for name in ("一", "二", "三"):
                make_recognized_document(
                    db, user=users[0], form=form, store=store, values={"name": name, "agree": True}
                )
            db.commit()
            principals = [
                Principal(user_id=u.id, org_id=org.id, role="reviewer", username=u.username) for u in users
            ]
        barrier = threading.Barrier(len(principals))
        results: list[str | None] = []
        lock = threading.Lock()

        def press(principal: Principal) -> None:
            with factory() as session:
                set_scope(session, OrgScope(principal.org_id))
                barrier.wait()
                document = claim_next_document(session, principal=principal)
                with lock:
                    results.append(document.id if document else None)

        threads = [threading.Thread(target=press, args=(p,)) for p in principals]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        taken = [r for r in results if r]
        assert len(results) == 6 and len(taken) == 3 and len(set(taken)) == 3
    finally:
        # The rows were committed for real (each thread needs its own connection): empty the tables again.
        truncate_all(engine)


def test_operator_sees_uploads_and_statuses_but_no_field_values(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN an operator's upload whose document was read (氏名 山田花子) WHEN the operator opens 受付状況,
    the batch API, the document list and the home page THEN the upload and its status show, the value does not,
    and the review queue and document detail are refused with a page (not raw JSON)."""
    org = make_org(db)
    operator = make_user(db, org, role="operator")
    form = make_form(db, org, store)
    db.commit()
    login(client, operator)
    upload = client.post(
        "/api/v1/documents", files={"file": ("受付テスト.pdf", pdf_bytes(1), "application/pdf")}
    )
    assert upload.status_code == 201, upload.text
    document_id, batch_id = upload.json()["id"], upload.json()["batch_id"]
    set_scope(db, SYSTEM_SCOPE)
    # What the worker would leave: the batch read as one 要確認 document with a value.
    (page,) = ensure_pages(db, document=db.get_one(Document, document_id), layout_pages=1)
    reading = PageReading(
        page_no=1,
        status="ok",
        form_key=form.id,
        fields=[FieldReading(name="name", value="山田花子", confidence=0.99)],
    )
    save_page_reading(db, page=page, reading=reading, page_png=png(), store=store)
    transition_document(
        db,
        document_id=document_id,
        from_statuses=(DocumentStatus.QUEUED,),
        to_status=DocumentStatus.RECOGNIZED,
    )
    db.commit()
    batches = client.get("/api/v1/batches").json()
    assert [b["id"] for b in batches] == [batch_id] and batches[0]["original_filename"] == "受付テスト.pdf"
    assert batches[0]["documents"][0]["status_label"] == "要確認"
    intake = client.get("/intake")
    assert intake.status_code == 200 and "受付テスト.pdf" in intake.text and "要確認" in intake.text
    assert client.get("/upload").status_code == 200
    assert client.get("/", follow_redirects=False).headers["location"] == "/upload"
    for response in (client.get("/api/v1/batches"), intake, client.get("/api/v1/documents")):
        assert "山田花子" not in response.text
    queue = client.get("/review")
    assert queue.status_code == 403 and "<html" in queue.text and "権限" in queue.text
    assert client.get(f"/api/v1/documents/{document_id}").status_code == 403


def _formula_layout(guard: str) -> LayoutSource:
    layout = FormLayout.model_validate(
        {
            "code": f"formula_{guard}",
            "title": "注入テスト",
            "fields": [
                {"name": "a", "label": "=A", "box": [100, 100, 300, 130], "csv_column": '=HYPERLINK("x")'},
                {"name": "b", "label": "B", "box": [100, 140, 300, 170]},
                {"name": "c", "label": "C", "box": [100, 180, 300, 210]},
                {"name": "d", "label": "D", "box": [100, 220, 300, 250]},
                {"name": "e", "label": "E", "box": [100, 260, 300, 290]},
                {"name": "f", "label": "F", "box": [100, 300, 300, 330]},
                {"name": "g", "label": "G", "box": [100, 340, 300, 370]},
            ],
            "export": {"encoding": "utf-8", "formula_guard": guard},
        }
    )
    return LayoutSource(layout=layout, template_pdf=pdf_bytes(), origin=Path("test"))


def test_csv_injection_payloads_come_out_neutralised(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN confirmed values starting with = + - @ tab, full-width ＝ and a layout header starting with =
    WHEN exported THEN each such cell (and the header) starts with ' ; with formula_guard off they are verbatim."""
    org = make_org(db)
    user = make_user(db, org)
    payloads = {
        "a": "=1+2",
        "b": "+SUM(A1)",
        "c": "-3+4",
        "d": "@cmd",
        "e": "\tTAB",
        "f": "＝全角",
        "g": "普通",
    }
    for guard in ("prefix", "off"):
        form = make_form(db, org, store, _formula_layout(guard))
        document = make_recognized_document(db, user=user, form=form, store=store, values=dict(payloads))
        set_scope(db, SYSTEM_SCOPE)
        transition_document(
            db,
            document_id=document.id,
            from_statuses=(DocumentStatus.RECOGNIZED,),
            to_status=DocumentStatus.CONFIRMED,
        )
        db.commit()
    login(client, user)
    guarded = list(csv.reader(io.StringIO(client.post("/api/v1/forms/formula_prefix/export.csv").text)))
    assert guarded[0][1] == '\'=HYPERLINK("x")'
    assert guarded[1][1:] == ["'=1+2", "'+SUM(A1)", "'-3+4", "'@cmd", "'\tTAB", "'＝全角", "普通"]
    verbatim = list(csv.reader(io.StringIO(client.post("/api/v1/forms/formula_off/export.csv").text)))
    assert verbatim[1][1:] == list(payloads.values())


def test_past_exports_are_listed_and_downloadable_again_audited(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN an export with the batch, page and 受付日時 columns WHEN listed and downloaded again THEN the same
    bytes come back and the download is audited; another organisation's user gets 404."""
    org, other = make_org(db), make_org(db)
    user, stranger = make_user(db, org), make_user(db, other)
    form = make_form(db, org, store)
    document = make_recognized_document(
        db, user=user, form=form, store=store, values={"name": "山田", "agree": True}
    )
    set_scope(db, SYSTEM_SCOPE)
    transition_document(
        db,
        document_id=document.id,
        from_statuses=(DocumentStatus.RECOGNIZED,),
        to_status=DocumentStatus.CONFIRMED,
    )
    db.commit()
    login(client, user)
    first = client.post("/api/v1/forms/simple/export.csv?extra=batch,pages,received")
    header = first.content.decode("cp932").split("\r\n")[0].split(",")
    assert header[-3:] == ["取込ファイル", "ページ", "受付日時"]
    (record,) = client.get("/api/v1/exports").json()
    again = client.get(f"/api/v1/exports/{record['id']}/download")
    assert again.status_code == 200 and again.content == first.content
    assert "もう一度ダウンロード" in client.get("/exports").text
    set_scope(db, SYSTEM_SCOPE)
    assert db.scalar(
        select(AuditEvent).where(AuditEvent.action == "export.download", AuditEvent.object_id == record["id"])
    )
    login(client, stranger)
    assert client.get(f"/api/v1/exports/{record['id']}/download").status_code == 404
    assert client.get("/api/v1/exports").json() == []
