"""Object permissions: a user of organisation B never reaches organisation A's data."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal, create_api_token
from ocr_service.db.scoping import SYSTEM_SCOPE, OrgScope, ScopeError, set_scope
from ocr_service.documents.models import Document, FieldResult
from ocr_service.orgs.models import Organisation
from ocr_service.storage.blobs import BlobStore
from tests.factories import login, make_form, make_org, make_user, pdf_bytes, simple_layout
from tests.helpers import make_recognized_document, plain_value


def _setup(db: Session, store: BlobStore) -> tuple[Document, FieldResult, object, object]:
    org_a, org_b = make_org(db, "A課"), make_org(db, "B課")
    user_a, user_b = make_user(db, org_a), make_user(db, org_b)
    form_a = make_form(db, org_a, store)
    make_form(db, org_b, store)
    document = make_recognized_document(
        db, user=user_a, form=form_a, store=store, values={"name": "山田", "agree": True}
    )
    field = db.scalars(select(FieldResult).where(FieldResult.document_id == document.id)).first()
    assert field is not None
    db.commit()
    return document, field, user_a, user_b


def test_foreign_document_routes_answer_404_like_missing_ones(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN A's recognised document WHEN B asks for it, its page, crop THEN 404, same body as a missing id."""
    document, field, _user_a, user_b = _setup(db, store)
    login(client, user_b)  # type: ignore[arg-type]
    urls = [
        f"/api/v1/documents/{document.id}",
        f"/api/v1/documents/{document.id}/pages/1/image",
        f"/api/v1/documents/{document.id}/fields/{field.id}/crop",
    ]
    missing = client.get("/api/v1/documents/" + "f" * 32)
    assert missing.status_code == 404
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json() == missing.json()
    assert client.get("/api/v1/documents").json() == []


def test_owner_reaches_the_same_routes(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN A's document WHEN A's user asks THEN every route answers 200 (so the 404s above are real)."""
    document, field, user_a, _user_b = _setup(db, store)
    login(client, user_a)  # type: ignore[arg-type]
    assert client.get(f"/api/v1/documents/{document.id}").json()["fields"]
    assert client.get(f"/api/v1/documents/{document.id}/pages/1/image").headers["content-type"] == "image/png"
    assert client.get(f"/api/v1/documents/{document.id}/fields/{field.id}/crop").status_code == 200
    assert [d["id"] for d in client.get("/api/v1/documents").json()] == [document.id]
    assert client.post(f"/api/v1/review/documents/{document.id}/confirm").status_code == 200
    csv = client.post("/api/v1/forms/simple/export.csv")
    assert csv.status_code == 200 and document.id in csv.content.decode("cp932")


def test_foreign_csv_holds_no_foreign_rows(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN both orgs have form 'simple' and A's document is confirmed WHEN B exports it
    THEN A's document is not in B's CSV and stays 確認済 (B's export cannot mark it 出力済)."""
    document, _field, _a, user_b = _setup(db, store)
    set_scope(db, SYSTEM_SCOPE)
    document.status = "confirmed"
    db.commit()
    login(client, user_b)  # type: ignore[arg-type]
    response = client.post("/api/v1/forms/simple/export.csv")
    assert response.status_code == 200
    assert document.id not in response.content.decode("cp932")
    assert response.content.decode("cp932").count("\r\n") == 1  # header only
    db.expire_all()
    assert db.get(Document, document.id).status == "confirmed"  # type: ignore[union-attr]


def test_csv_of_a_form_only_another_org_has_is_404(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN form 'only_a' exists only in A WHEN B exports it THEN 404."""
    org_a, org_b = make_org(db, "A課"), make_org(db, "B課")
    make_form(db, org_a, store, simple_layout("only_a"))
    user_b = make_user(db, org_b)
    db.commit()
    login(client, user_b)
    assert client.post("/api/v1/forms/only_a/export.csv").status_code == 404


def test_cannot_upload_into_another_org(
    client: TestClient, db: Session, store: BlobStore, enqueued: list[str]
) -> None:
    """GIVEN form 'only_a' exists only in A WHEN B uploads naming it THEN refused, and nothing lands in A."""
    org_a, org_b = make_org(db, "A課"), make_org(db, "B課")
    make_form(db, org_a, store, simple_layout("only_a"))
    user_b = make_user(db, org_b, role="operator")
    db.commit()
    login(client, user_b)
    response = client.post(
        "/api/v1/documents",
        files={"file": ("x.pdf", pdf_bytes(), "application/pdf")},
        data={"form_code": "only_a"},
    )
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "unknown_form"
    set_scope(db, OrgScope(org_a.id))
    assert db.scalars(select(Document)).all() == []
    assert enqueued == []


def test_scope_refuses_cross_org_writes_and_unscoped_reads(db: Session, store: BlobStore) -> None:
    """GIVEN a session scoped to B WHEN it writes a row of A THEN ScopeError; an unscoped read fails too."""
    document, _field, _a, user_b = _setup(db, store)
    set_scope(db, OrgScope(user_b.org_id))  # type: ignore[attr-defined]
    db.expunge_all()
    assert db.get(Document, document.id) is None
    db.add(
        Document(
            org_id=document.org_id, uploaded_by=1, sha256="0" * 64, size_bytes=1, page_count=1, blob_key="x"
        )
    )
    with pytest.raises(ScopeError):
        db.flush()
    db.rollback()
    db.info.pop("org_scope")
    with pytest.raises(ScopeError):
        db.scalars(select(Document)).all()


def test_form_list_shows_only_own_forms(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN form 'only_a' in A and 'simple' in B WHEN B lists forms THEN only B's form is listed."""
    org_a, org_b = make_org(db, "A課"), make_org(db, "B課")
    make_form(db, org_a, store, simple_layout("only_a"))
    make_form(db, org_b, store)
    user_b = make_user(db, org_b, role="operator")
    db.commit()
    login(client, user_b)
    assert [f["code"] for f in client.get("/api/v1/forms").json()] == ["simple"]


def test_review_queue_screens_and_actions_are_per_organisation(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN A's recognised document WHEN B opens the review queue, the document screen, its blind-entry
    and arbitration screens, its crop, or tries to edit or confirm it THEN B sees nothing of it (404 like a
    missing id, empty queue) and A's field is unchanged; A's own queue lists it (so the checks are real)."""
    document, field, user_a, user_b = _setup(db, store)
    login(client, user_b)  # type: ignore[arg-type]
    assert client.get("/api/v1/review/queue").json() == []
    queue_html = client.get("/review").text
    assert document.id not in queue_html and "文書はまだありません" in queue_html
    missing_screen = client.get("/review/documents/" + "f" * 32)
    assert missing_screen.status_code == 404 and "見つかりません" in missing_screen.text  # a page, not JSON
    missing_api = client.get("/api/v1/documents/" + "f" * 32).json()
    for url in (
        f"/review/documents/{document.id}",
        f"/review/documents/{document.id}/blind-entry",
        f"/review/documents/{document.id}/arbitration",
        f"/api/v1/documents/{document.id}/fields/{field.id}/crop",
    ):
        response = client.get(url)
        expected = missing_api if url.startswith("/api/") else None
        assert response.status_code == 404, url
        if expected is not None:
            assert response.json() == expected, url
        else:
            assert response.text == missing_screen.text, url
    edit = client.patch(
        f"/api/v1/review/documents/{document.id}/fields/{field.id}", json={"value": "乗っ取り", "version": 1}
    )
    assert edit.status_code == 404
    assert client.post(f"/api/v1/review/documents/{document.id}/confirm").status_code == 404
    db.expire_all()
    set_scope(db, SYSTEM_SCOPE)
    assert plain_value(db, db.get(FieldResult, field.id)) == "山田"
    assert db.get(Document, document.id).status == "recognized"  # type: ignore[union-attr]
    login(client, user_a)  # type: ignore[arg-type]
    assert [q["id"] for q in client.get("/api/v1/review/queue").json()] == [document.id]
    assert client.get(f"/review/documents/{document.id}").status_code == 200


def test_issue10_routes_are_per_organisation(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN A's batch, A's 様式不明 document, A's recognised document and A's kept export
    WHEN B uses every route added for batches, 次の文書, 様式不明 decisions, past exports and the operator
    screens THEN B sees and changes nothing of A's (404 like a missing id, empty lists); A sees them all."""
    from ocr_service.documents.status import DocumentStatus
    from tests.test_batches import _unidentified_document

    document, _field, user_a, user_b = _setup(db, store)
    set_scope(db, SYSTEM_SCOPE)
    unknown = _unidentified_document(db, user=user_a, store=store)  # type: ignore[arg-type]
    db.commit()
    login(client, user_a)  # type: ignore[arg-type]
    upload = client.post(
        "/api/v1/documents", files={"file": ("a-secret.pdf", pdf_bytes(), "application/pdf")}
    )
    batch_id = upload.json()["batch_id"]
    set_scope(db, SYSTEM_SCOPE)
    own = db.get_one(Document, document.id)
    own.status = DocumentStatus.CONFIRMED  # as after review, so A can export
    db.commit()
    assert client.post("/api/v1/forms/simple/export.csv").status_code == 200
    export_id = client.get("/api/v1/exports").json()[0]["id"]
    set_scope(db, SYSTEM_SCOPE)
    own.status = DocumentStatus.RECOGNIZED  # waiting again, so 次の文書 has something to hand out
    db.commit()

    login(client, user_b)  # type: ignore[arg-type]
    assert client.get("/api/v1/batches").json() == []
    assert client.get(f"/api/v1/batches/{batch_id}").status_code == 404
    assert client.get("/api/v1/exports").json() == []
    assert client.get(f"/api/v1/exports/{export_id}/download").status_code == 404
    assert client.post("/api/v1/review/next").json() is None
    assert client.get(f"/api/v1/documents/{unknown.id}/pages/1/image?view=raw").status_code == 404
    base = f"/api/v1/review/documents/{unknown.id}"
    assert client.post(f"{base}/assign-form", json={"form_code": "simple"}).status_code == 404
    assert client.post(f"{base}/exclude", json={"reason": "x"}).status_code == 404
    assert client.post(f"{base}/delete", json={"reason": "x"}).status_code == 404
    for screen in ("/intake", "/exports", "/upload", "/review?group=様式不明"):
        page = client.get(screen)
        assert page.status_code == 200 and "a-secret.pdf" not in page.text and unknown.id not in page.text, (
            screen
        )
    assert client.get(f"/review/documents/{unknown.id}").status_code == 404
    db.expire_all()
    set_scope(db, SYSTEM_SCOPE)
    assert db.get_one(Document, unknown.id).status == DocumentStatus.UNIDENTIFIED
    assert db.get_one(Document, document.id).claimed_by is None

    login(client, user_a)  # type: ignore[arg-type]
    assert client.get("/api/v1/batches").json()[0]["id"] == batch_id
    assert client.get(f"/api/v1/batches/{batch_id}").status_code == 200
    assert client.get(f"/api/v1/exports/{export_id}/download").status_code == 200
    assert client.post("/api/v1/review/next").json()["id"] == document.id
    assert "a-secret.pdf" in client.get("/intake").text


def test_admin_console_is_confined_to_the_admins_subtree(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN admins of A and B, B's users, token, policy and form WHEN A's admin lists or changes any of
    them through every admin route THEN B's objects are absent from lists and every change is 404 like a
    missing id, and nothing of B changed; reviewers get 403 on every admin route."""
    from ocr_service.auth.models import ApiToken, User
    from ocr_service.auth.service import create_api_token
    from ocr_service.orgs.models import Organisation

    org_a, org_b = make_org(db, "A課"), make_org(db, "B課")
    admin_a = make_user(db, org_a, role="admin")
    reviewer_a = make_user(db, org_a)
    user_b = make_user(db, org_b, username="b-person")
    make_form(db, org_b, store, simple_layout("only_b"))
    token_b = create_api_token(db, user=user_b, name="b-scanner")
    db.commit()
    set_scope(db, SYSTEM_SCOPE)
    token_id = db.scalars(select(ApiToken).where(ApiToken.name == "b-scanner")).one().id

    writes = [
        ("POST", f"/api/v1/admin/users/{user_b.id}/disable", None),
        ("POST", f"/api/v1/admin/users/{user_b.id}/enable", None),
        ("POST", f"/api/v1/admin/users/{user_b.id}/reset-password", None),
        ("POST", f"/api/v1/admin/users/{user_b.id}/unlock", None),
        ("POST", f"/api/v1/admin/users/{user_b.id}/reset-mfa", None),
        ("PUT", f"/api/v1/admin/users/{user_b.id}/role", {"role": "admin"}),
        ("POST", "/api/v1/admin/users", {"org_id": org_b.id, "username": "planted", "role": "admin"}),
        ("POST", "/api/v1/admin/tokens", {"user_id": user_b.id, "name": "stolen", "expires_days": 30}),
        ("POST", f"/api/v1/admin/tokens/{token_id}/revoke", None),
        ("PUT", f"/api/v1/admin/orgs/{org_b.id}/policy", {"allowed_networks": ["192.0.2.0/24"]}),
        ("PUT", "/api/v1/admin/forms/only_b/personal-data", {"personal_data": True}),
    ]
    reads = [
        f"/api/v1/admin/orgs/{org_b.id}/policy",
        f"/admin/policies?org={org_b.id}",
    ]
    login(client, reviewer_a)
    for method, url, body in writes:
        assert client.request(method, url, json=body).status_code == 403, url
    for url in [
        "/api/v1/admin/users",
        "/api/v1/admin/tokens",
        "/api/v1/admin/orgs",
        "/admin/users",
        "/admin/tokens",
    ]:
        assert client.get(url).status_code == 403, url

    login(client, admin_a)
    missing = client.post("/api/v1/admin/users/999999/disable").json()
    for method, url, body in writes:
        response = client.request(method, url, json=body)
        assert response.status_code == 404 and response.json() == missing, (url, response.text)
    for url in reads:
        assert client.get(url).status_code == 404, url
    assert "b-person" not in {u["username"] for u in client.get("/api/v1/admin/users").json()}
    assert "b-scanner" not in {t["name"] for t in client.get("/api/v1/admin/tokens").json()}
    assert "B課" not in {o["name"] for o in client.get("/api/v1/admin/orgs").json()}
    for page in ("/admin/users", "/admin/tokens", "/admin/orgs", "/admin/policies"):
        html = client.get(page).text
        assert "b-person" not in html and "b-scanner" not in html and "B課" not in html, page

    db.expire_all()
    assert db.get_one(User, user_b.id).is_active
    assert db.scalar(select(User).where(User.username == "planted")) is None
    assert db.get_one(Organisation, org_b.id).policy == {}
    assert db.get_one(ApiToken, token_id).revoked_at is None
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token_b}"}).status_code == 200


def test_group_admin_cannot_reach_its_parent_department(client: TestClient, db: Session) -> None:
    """GIVEN a department with a group WHEN the group's admin acts on a department user THEN 404; the
    department's admin reaches the group's user (its subtree)."""
    from ocr_service.orgs.service import get_or_create_organisation

    set_scope(db, SYSTEM_SCOPE)
    dept = get_or_create_organisation(db, name="親部署")
    group = get_or_create_organisation(db, name="親部署 子係", parent_name="親部署", kind="group")
    dept_admin, dept_user = make_user(db, dept, role="admin"), make_user(db, dept)
    group_admin, group_user = make_user(db, group, role="admin"), make_user(db, group)
    db.commit()
    login(client, group_admin)
    assert client.post(f"/api/v1/admin/users/{dept_user.id}/unlock").status_code == 404
    assert client.get(f"/api/v1/admin/orgs/{dept.id}/policy").status_code == 404
    login(client, dept_admin)
    assert client.post(f"/api/v1/admin/users/{group_user.id}/unlock").status_code == 200
    assert client.get(f"/api/v1/admin/orgs/{group.id}/policy").status_code == 200


def test_same_file_from_another_organisation_is_its_own_document(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN org A uploaded a file WHEN org B uploads the same bytes THEN B gets its own document (201)."""
    org_a = make_org(db)
    make_form(db, org_a, store)
    user_a = make_user(db, org_a, role="operator")
    db.commit()
    login(client, user_a)
    data = pdf_bytes(text="shared")
    a = client.post("/api/v1/documents", files={"file": ("a.pdf", data, "application/pdf")}).json()
    org_b = make_org(db)
    make_form(db, org_b, store)
    user_b = make_user(db, org_b, role="operator")
    db.commit()
    login(client, user_b)
    b = client.post("/api/v1/documents", files={"file": ("a.pdf", data, "application/pdf")})
    assert b.status_code == 201 and b.json()["id"] != a["id"]


def test_bridges_are_per_organisation(client: TestClient, db: Session) -> None:
    """GIVEN A's bridge WHEN B's admin lists bridges (JSON or screen) THEN it is not there; B may use the same name."""
    org_a, org_b = make_org(db, "A課"), make_org(db, "B課")
    token_a = create_api_token(db, user=make_user(db, org_a, role="operator"), name="s")
    token_b = create_api_token(db, user=make_user(db, org_b, role="operator"), name="s")
    admin_b = make_user(db, org_b, role="admin")
    db.commit()
    assert (
        client.post(
            "/api/v1/bridges/heartbeat",
            json=_heartbeat(hostname="A-PC"),
            headers={"Authorization": f"Bearer {token_a}"},
        ).status_code
        == 200
    )
    login(client, admin_b)
    assert client.get("/api/v1/bridges").json() == []
    assert "A-PC" not in client.get("/admin/bridges").text
    assert (
        client.post(
            "/api/v1/bridges/heartbeat",
            json=_heartbeat(hostname="B-PC"),
            headers={"Authorization": f"Bearer {token_b}"},
        ).status_code
        == 200
    )
    assert [r["hostname"] for r in client.get("/api/v1/bridges").json()] == ["B-PC"]


def _heartbeat(**extra: object) -> dict[str, object]:
    return {"name": "スキャナー1", "version": "0.1.0", "hot_folders": ["D:/Scan"], **extra}


def test_foreign_form_drafts_answer_404(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN org A's 様式エディタ draft WHEN org B's admin opens, saves or publishes it THEN 404 like a missing id."""
    from ocr_service.forms.editor import create_draft_from_template
    from tests.support.blank_forms import setai_ichiran

    org_a, org_b = make_org(db, "A課"), make_org(db, "B課")
    admin_a, admin_b = make_user(db, org_a, role="admin"), make_user(db, org_b, role="admin")
    set_scope(db, OrgScope(org_a.id))
    draft = create_draft_from_template(
        db,
        org_id=org_a.id,
        user_id=admin_a.id,
        template_pdf=setai_ichiran()[0],
        filename="s.pdf",
        store=store,
    )
    db.commit()
    login(client, admin_b)
    missing = client.get("/api/v1/admin/form-drafts/" + "f" * 32)
    assert missing.status_code == 404
    base = f"/api/v1/admin/form-drafts/{draft.id}"
    for url in (base, f"{base}/pages/1.png", f"{base}/yaml", f"{base}/check.png"):
        assert client.get(url).status_code == 404, url
        assert client.get(url).json() == missing.json()
    assert client.put(base, json={"layout": draft.layout}).status_code == 404
    assert client.post(f"{base}/yaml", content=b"code: x").status_code == 404
    assert client.post(f"{base}/trial").status_code == 404
    assert client.post(f"{base}/publish").status_code == 404
    assert client.get(f"/admin/forms/drafts/{draft.id}").status_code == 404
    assert client.get("/api/v1/admin/form-drafts").json() == []
    login(client, admin_a)
    assert client.get(f"/api/v1/admin/form-drafts/{draft.id}").status_code == 200


def test_erase_and_certificates_are_per_organisation(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN A's document and A's deletion certificate WHEN B's admin tries to erase A's document,
    or lists / downloads A's certificate THEN 404 or an empty list, and A's document still exists."""
    document, _field, user_a, _user_b = _setup(db, store)
    other, _f, _ua, _ub = _setup_other(db, store, user_a)
    admin_b = make_user(db, db.get_one(Organisation, _user_b.org_id), role="admin")  # type: ignore[attr-defined]
    db.commit()
    login(client, user_a)  # type: ignore[arg-type]
    certificate_id = client.post(
        f"/api/v1/documents/{other.id}/erase", json={"reason": "誤アップロード"}
    ).json()["certificate_id"]
    login(client, admin_b)
    missing = client.post("/api/v1/documents/" + "f" * 32 + "/erase", json={"reason": "x"})
    assert missing.status_code == 404
    response = client.post(f"/api/v1/documents/{document.id}/erase", json={"reason": "x"})
    assert response.status_code == 404 and response.json() == missing.json()
    assert client.get("/api/v1/retention/certificates").json() == []
    for suffix in (".json", ".pdf"):
        assert client.get(f"/api/v1/retention/certificates/{certificate_id}{suffix}").status_code == 404
    assert client.get(f"/api/v1/documents/{other.id}").status_code == 404  # A's tombstone is not B's 410
    db.expire_all()
    set_scope(db, SYSTEM_SCOPE)
    assert db.get(Document, document.id) is not None


def _setup_other(db: Session, store: BlobStore, user: object) -> tuple[Document, None, None, None]:
    from ocr_service.forms.models import FormDefinition

    form = db.scalars(select(FormDefinition).where(FormDefinition.org_id == user.org_id)).first()  # type: ignore[attr-defined]
    assert form is not None
    other = make_recognized_document(db, user=user, form=form, store=store, values={"name": "佐藤"})  # type: ignore[arg-type]
    db.commit()
    return other, None, None, None


def test_log_review_shows_only_the_own_organisations_events(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN an event of org A WHEN B's admin opens ログ監査 and its CSV THEN A's event is absent;
    B's reviewer is refused (403); B's probe of A's document is a refused event in B's log, not A's."""
    org_a, org_b = make_org(db, "A課"), make_org(db, "B課")
    user_a = make_user(db, org_a, username="a-user")
    admin_b, reviewer_b = make_user(db, org_b, role="admin"), make_user(db, org_b)
    audit(
        db,
        Principal(user_id=user_a.id, org_id=org_a.id, role=user_a.role, username=user_a.username),
        "document.view",
        obj_id="secret-a",
    )
    db.commit()
    login(client, admin_b)
    page = client.get("/admin/audit")
    assert page.status_code == 200 and "secret-a" not in page.text and "a-user" not in page.text
    csv = client.get("/admin/audit.csv")
    assert csv.status_code == 200 and "secret-a" not in csv.content.decode("cp932")
    assert admin_b.username in csv.content.decode("cp932")  # its own view of the screen is listed
    assert client.get(f"/admin/audit/usage?month=2026-11&org={org_a.id}").status_code == 404
    own = client.get(f"/admin/audit/usage?month=2026-11&org={org_b.id}&format=csv")
    assert (
        own.status_code == 200
        and "B課" in own.content.decode("cp932")
        and "A課" not in own.content.decode("cp932")
    )
    client.cookies.clear()
    login(client, reviewer_b)
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403
    client.get("/api/v1/documents/" + "a" * 32)
    probe = db.scalars(select(AuditEvent).where(AuditEvent.action == "request.refused")).all()
    assert [(e.org_id, e.actor, e.detail["status"]) for e in probe][-1] == (
        org_b.id,
        reviewer_b.username,
        404,
    )


def test_review_outcome_summary_is_per_organisation(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN A's document confirmed (its outcomes recorded) WHEN B's admin asks for the residual error
    per form THEN B sees no form; A's admin sees A's form; a reviewer may not ask at all."""
    document, _field, user_a, _user_b = _setup(db, store)
    login(client, user_a)  # type: ignore[arg-type]
    assert client.post(f"/api/v1/review/documents/{document.id}/confirm").status_code == 200
    assert client.get("/api/v1/review/outcomes").status_code == 403
    admin_a = make_user(db, make_org(db, "A課"), role="admin")
    admin_b = make_user(db, make_org(db, "B課"), role="admin")
    db.commit()
    login(client, admin_b)
    assert client.get("/api/v1/review/outcomes").json()["forms"] == {}
    login(client, admin_a)
    forms = client.get("/api/v1/review/outcomes").json()["forms"]
    assert list(forms) == ["simple"] and forms["simple"]["n"] == 2
