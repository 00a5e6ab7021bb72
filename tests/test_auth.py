"""Authentication: cookie sessions for people, bearer tokens for machines, roles, audit."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.auth.models import User
from ocr_service.auth.service import create_api_token
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from tests.factories import PASSWORD, login, make_org, make_user


def test_routes_need_authentication(client: TestClient) -> None:
    """GIVEN no credentials WHEN calling protected routes THEN 401."""
    for method, url in (
        ("GET", "/api/v1/documents"),
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/forms"),
        ("POST", "/api/v1/forms/x/export.csv"),
        ("GET", "/api/v1/review/queue"),
        ("POST", "/api/v1/review/documents/x/confirm"),
        ("GET", "/api/v1/export/char-mappings"),
        ("GET", "/api/v1/bridges"),
        ("POST", "/api/v1/bridges/heartbeat"),
    ):
        assert client.request(method, url).status_code == 401, url


def test_wrong_password_is_refused_and_audited(client: TestClient, db: Session) -> None:
    """GIVEN a user WHEN logging in with a wrong password THEN 401 and a login_failed audit event."""
    user = make_user(db, make_org(db))
    db.commit()
    response = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": "wrong-password"}
    )
    assert response.status_code == 401
    assert "パスワード" in response.json()["detail"]["message"]
    set_scope(db, SYSTEM_SCOPE)
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login_failed"))


def test_password_is_stored_as_argon2id(db: Session) -> None:
    """GIVEN a new user THEN only an argon2id hash is stored."""
    user = make_user(db, make_org(db))
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_login_logout_cycle(client: TestClient, db: Session) -> None:
    """GIVEN a logged-in user WHEN logging out THEN the session no longer works."""
    user = make_user(db, make_org(db))
    db.commit()
    login(client, user)
    assert client.get("/api/v1/auth/me").json()["username"] == user.username
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_bearer_token_authenticates_a_machine(client: TestClient, db: Session) -> None:
    """GIVEN an API token WHEN sent as Bearer THEN the call runs as its user; a forged token is 401."""
    user = make_user(db, make_org(db), role="operator")
    token = create_api_token(db, user=user, name="scanner")
    db.commit()
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == user.username
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer ocrt_forged"}).status_code == 401


def test_operator_cannot_read_results(client: TestClient, db: Session) -> None:
    """GIVEN an operator (scanning only) WHEN listing documents THEN the list (statuses) answers, but reading
    a document's field values, the review queue or an export is 403."""
    user: User = make_user(db, make_org(db), role="operator")
    db.commit()
    login(client, user)
    assert client.get("/api/v1/documents").status_code == 200
    assert client.get("/api/v1/documents/" + "f" * 32).status_code == 403
    assert client.get("/api/v1/review/queue").status_code == 403
    assert client.post("/api/v1/forms/x/export.csv").status_code == 403
