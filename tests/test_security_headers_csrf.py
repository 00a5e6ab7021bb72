"""Browser security defaults: headers on every screen, CSRF on cookie-authenticated writes, offline docs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.api.app import create_app
from ocr_service.auth.service import create_api_token
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document
from ocr_service.storage.blobs import BlobStore
from tests.factories import login, make_form, make_org, make_user
from tests.helpers import make_confirmed_document

INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
SCREENS = [
    "/login",
    "/review",
    "/upload",
    "/intake",
    "/exports",
    "/admin",
    "/admin/orgs",
    "/admin/users",
    "/admin/tokens",
    "/admin/policies",
    "/account/password",
    "/account/mfa",
    "/api/v1/docs",
    "/api/v1/auth/me",
    "/api/v1/admin/users",
]


def test_every_screen_carries_the_security_headers(client: TestClient, db: Session) -> None:
    """GIVEN an admin WHEN opening every screen THEN CSP without inline script, frame-ancestors 'none',
    X-Frame-Options, nosniff, Referrer-Policy and no-store are set."""
    admin = make_user(db, make_org(db), role="admin")
    db.commit()
    login(client, admin)
    for url in SCREENS:
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:200])
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("style-src")[0], url
        assert "frame-ancestors 'none'" in csp, url
        assert response.headers["x-frame-options"] == "DENY", url
        assert response.headers["x-content-type-options"] == "nosniff", url
        assert response.headers["referrer-policy"] == "same-origin", url
        assert response.headers["cache-control"] == "no-store", url
        assert "<script>" not in response.text and " on" + "click=" not in response.text, url
        # No inline script or event handler of any kind: every <script> loads a file.
        assert not INLINE_HANDLER.search(response.text), (url, INLINE_HANDLER.search(response.text))
        assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", response.text)), url


def test_batch_writes_need_the_csrf_token(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN an admin (TOTP enrolled by the login helper), a 様式不明 document and a recognised one WHEN the
    issue-10 writes (次の文書, assign/exclude/delete, 一括確定) arrive without the CSRF token THEN 403 and
    nothing changes; with the token they run (the screens themselves are in SCREENS above)."""
    from ocr_service.documents.status import DocumentStatus
    from tests.helpers import make_recognized_document
    from tests.test_batches import _unidentified_document

    org = make_org(db)
    admin = make_user(db, org, role="admin")
    form = make_form(db, org, store)
    recognized = make_recognized_document(db, user=admin, form=form, store=store, values={"name": "山田"})
    unknown = _unidentified_document(db, user=admin, store=store)
    db.commit()
    login(client, admin)
    token = client.headers.pop("x-csrf-token")
    base = f"/api/v1/review/documents/{unknown.id}"
    writes = [
        ("/api/v1/review/next", None),
        (f"{base}/assign-form", {"form_code": "simple"}),
        (f"{base}/exclude", {"reason": "白紙"}),
        (f"{base}/delete", {"reason": "白紙"}),
        (f"/api/v1/review/documents/{recognized.id}/confirm", {"bulk": True}),
    ]
    for url, body in writes:
        response = client.post(url, json=body)
        assert response.status_code == 403 and response.json()["detail"]["code"] == "csrf_failed", url
    db.expire_all()
    set_scope(db, SYSTEM_SCOPE)
    assert db.get_one(Document, unknown.id).status == DocumentStatus.UNIDENTIFIED
    assert db.get_one(Document, recognized.id).status == DocumentStatus.RECOGNIZED
    client.headers["x-csrf-token"] = token
    assert client.post(f"{base}/exclude", json={"reason": "白紙"}).status_code == 200
    assert (
        client.post(f"/api/v1/review/documents/{recognized.id}/confirm", json={"bulk": True}).status_code
        == 200
    )


def _exportable(db: Session, store: BlobStore) -> tuple[object, Document]:
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store)
    document = make_confirmed_document(db, user=user, form=form, store=store, values={"name": "山田"})
    db.commit()
    return user, document


@pytest.mark.parametrize(
    ("headers", "keep_token"),
    [
        ({"Origin": "https://evil.example"}, True),
        ({"Origin": "http://intranet.testserver"}, True),  # same site, other origin
        ({"Origin": "null"}, True),
        ({"Referer": "https://evil.example/page"}, True),
        ({}, False),  # no CSRF token
        ({"x-csrf-token": "forged"}, False),
        ({"x-csrf-token": "f\u00f6rged".encode("latin-1")}, False),  # non-ASCII: refused, not a 500
    ],
)
def test_cross_site_or_tokenless_writes_are_refused(
    client: TestClient, db: Session, store: BlobStore, headers: dict[str, Any], keep_token: bool
) -> None:
    """GIVEN a logged-in reviewer with a confirmed document WHEN an export (POST), a field edit (PATCH),
    or a logout arrives from a foreign origin or without the token THEN 403 and nothing changes."""
    user, document = _exportable(db, store)
    login(client, user)  # type: ignore[arg-type]
    if not keep_token:
        client.headers.pop("x-csrf-token")
    response = client.post("/api/v1/forms/simple/export.csv", headers=headers)
    assert response.status_code == 403 and response.json()["detail"]["code"] == "csrf_failed"
    assert (
        client.patch(f"/api/v1/review/documents/{document.id}/fields/x", json={}, headers=headers).status_code
        == 403
    )
    assert client.put("/api/v1/documents/x", headers=headers).status_code == 403
    assert client.delete("/api/v1/documents/x", headers=headers).status_code == 403
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 403
    db.expire_all()
    set_scope(db, SYSTEM_SCOPE)
    assert db.get_one(Document, document.id).status == "confirmed"
    assert client.get("/api/v1/auth/me").status_code == 200  # the session survived the forged logout


def test_same_origin_write_with_token_succeeds(client: TestClient, db: Session, store: BlobStore) -> None:
    """GIVEN the same reviewer WHEN the export comes from this origin with the token THEN it runs."""
    user, document = _exportable(db, store)
    login(client, user)  # type: ignore[arg-type]
    response = client.post("/api/v1/forms/simple/export.csv", headers={"Origin": "http://testserver"})
    assert response.status_code == 200
    db.expire_all()
    set_scope(db, SYSTEM_SCOPE)
    assert db.get_one(Document, document.id).status == "exported"


def test_bearer_clients_are_exempt_but_login_checks_origin(
    client: TestClient, db: Session, store: BlobStore
) -> None:
    """GIVEN a machine token WHEN it posts without any CSRF token THEN it works; a login posted from a
    foreign origin is refused."""
    user, _document = _exportable(db, store)
    set_scope(db, SYSTEM_SCOPE)
    token = create_api_token(db, user=user, name="bridge")  # type: ignore[arg-type]
    db.commit()
    response = client.post("/api/v1/forms/simple/export.csv", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    foreign = client.post(
        "/api/v1/auth/login",
        json={"username": user.username, "password": "x"},  # type: ignore[attr-defined]
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403


def test_admin_console_is_for_admins_only(client: TestClient, db: Session) -> None:
    """GIVEN a reviewer WHEN opening /admin THEN 403; an admin sees the Japanese shell with its menu."""
    org = make_org(db)
    reviewer, admin = make_user(db, org), make_user(db, org, role="admin")
    db.commit()
    login(client, reviewer)
    assert client.get("/admin").status_code == 403
    login(client, admin)
    page = client.get("/admin")
    assert page.status_code == 200 and 'aria-label="管理メニュー"' in page.text and 'lang="ja"' in page.text


def test_api_docs_use_only_local_assets(client: TestClient) -> None:
    """GIVEN the docs page WHEN rendered THEN every script and stylesheet is served by us (no CDN)."""
    page = client.get("/api/v1/docs").text
    assert "cdn" not in page.lower() and "https://" not in page
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/swagger-init.js").status_code == 200
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "OCR Service"


def test_public_origin_behind_a_host_rewriting_proxy(
    settings: Settings, session_factory: sessionmaker[Session], store: BlobStore, db: Session
) -> None:
    """GIVEN OCR_PUBLIC_ORIGINS=https://ocr.example.lg.jp and a proxy that sends Host: backend WHEN a write
    comes with that Origin THEN it passes the origin check; another origin still does not."""
    user, _document = _exportable(db, store)
    app = create_app(
        settings.model_copy(update={"public_origins": ["https://ocr.example.lg.jp"]}),
        session_factory=session_factory,
        store=store,
        enqueue=lambda _id: None,
    )
    with TestClient(app, base_url="http://backend:8000") as proxied:
        login(proxied, user)  # type: ignore[arg-type]
        ok = proxied.post("/api/v1/forms/simple/export.csv", headers={"Origin": "https://ocr.example.lg.jp"})
        assert ok.status_code == 200
        bad = proxied.post(
            "/api/v1/forms/simple/export.csv", headers={"Origin": "https://evil.example.lg.jp"}
        )
        assert bad.status_code == 403
