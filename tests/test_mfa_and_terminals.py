"""TOTP enrolment and login, recovery codes; terminal restriction (networks, trusted proxies,
client certificates) and the 個人情報系-only rule for personal_data forms."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.api.app import create_app
from ocr_service.audit.models import AuditEvent
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import FieldResult
from ocr_service.orgs.models import Organisation
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import PASSWORD, login, make_form, make_org, make_user, use_csrf_token
from tests.helpers import make_recognized_document

PROXY = "10.0.0.5"


def test_admin_must_enrol_and_then_logs_in_with_totp(client: TestClient, db: Session) -> None:
    """GIVEN an admin (MFA required by default) WHEN logging in THEN only enrolment is open; the QR is an
    inline SVG drawn here; a computed code activates it and returns 10 recovery codes; the next login
    needs a code: none → mfa_required, wrong → refused, a recovery code works once."""
    admin = make_user(db, make_org(db), role="admin")
    db.commit()
    first = client.post("/api/v1/auth/login", json={"username": admin.username, "password": PASSWORD})
    assert first.json()["stage"] == "mfa_enrol"
    use_csrf_token(client)
    assert client.get("/admin").status_code == 200  # redirected (followed) to the enrolment screen
    assert client.get("/api/v1/admin/users").json()["detail"]["code"] == "mfa_enrolment_required"
    page = client.get("/account/mfa").text
    assert "<svg" in page and "http" not in page.split("<svg", 1)[1].split("</svg>")[0].replace(
        "http://www.w3.org/2000/svg", ""
    )
    secret = client.post("/api/v1/auth/mfa/enrol").json()["secret"]
    assert client.post("/api/v1/auth/mfa/confirm", json={"code": "000000"}).status_code == 422
    confirmed = client.post("/api/v1/auth/mfa/confirm", json={"code": pyotp.TOTP(secret).now()})
    codes = confirmed.json()["secret"]
    assert len(codes) == 10 and len(set(codes)) == 10
    use_csrf_token(client)
    assert client.get("/api/v1/admin/users").status_code == 200
    body = {"username": admin.username, "password": PASSWORD}
    assert client.post("/api/v1/auth/login", json=body).json()["detail"]["code"] == "mfa_required"
    assert client.post("/api/v1/auth/login", json={**body, "otp": "123456"}).status_code == 401
    assert client.post("/api/v1/auth/login", json={**body, "otp": codes[0]}).json()["stage"] == "full"
    assert client.post("/api/v1/auth/login", json={**body, "otp": codes[0]}).status_code == 401  # used up
    set_scope(db, SYSTEM_SCOPE)
    actions = {
        e.action
        for e in db.scalars(
            select(AuditEvent).where(
                (AuditEvent.user_id == admin.id) | (AuditEvent.object_id == str(admin.id))
            )
        )
    }
    assert {"auth.mfa_enrolled", "auth.login", "auth.login_failed"} <= actions


def test_a_totp_code_is_accepted_once(client: TestClient, db: Session) -> None:
    """GIVEN an enrolled admin WHEN the same TOTP code is replayed THEN the second login is refused."""
    admin = make_user(db, make_org(db), role="admin")
    db.commit()
    client.post("/api/v1/auth/login", json={"username": admin.username, "password": PASSWORD})
    use_csrf_token(client)
    secret = client.post("/api/v1/auth/mfa/enrol").json()["secret"]
    totp = pyotp.TOTP(secret)
    # Enrol with the previous step's code (clock drift is allowed), so the current one is still unused.
    enrolled = client.post("/api/v1/auth/mfa/confirm", json={"code": totp.at(time.time() - 30)})
    assert enrolled.status_code == 200
    body = {"username": admin.username, "password": PASSWORD, "otp": totp.now()}
    assert client.post("/api/v1/auth/login", json=body).status_code == 200
    assert client.post("/api/v1/auth/login", json=body).status_code == 401


@pytest.fixture()
def proxied(
    settings: Settings, session_factory: sessionmaker[Session], store: LocalBlobStore, enqueued: list[str]
) -> Iterator[TestClient]:
    """The app behind a trusted reverse proxy at 10.0.0.5 (the client address comes from X-Forwarded-For)."""
    settings = settings.model_copy(update={"trusted_proxies": [f"{PROXY}/32"]})
    app = create_app(settings, session_factory=session_factory, store=store, enqueue=enqueued.append)
    with TestClient(app, client=(PROXY, 443)) as test_client:
        yield test_client


def _from(ip: str, **extra: str) -> dict[str, Any]:
    return {"headers": {"X-Forwarded-For": ip, **extra}}


def test_only_the_organisations_networks_can_sign_in(proxied: TestClient, db: Session) -> None:
    """GIVEN an organisation limited to 172.16.10.0/24 WHEN its user signs in from 172.16.20.7 THEN 403
    (audited) and no session; from 172.16.10.7 it works. A forged X-Forwarded-For from an untrusted
    peer is ignored (the peer address counts)."""
    org = make_org(db)
    org.policy = {"allowed_networks": ["172.16.10.0/24"]}
    user = make_user(db, org)
    db.commit()
    body = {"username": user.username, "password": PASSWORD}
    outside = proxied.post("/api/v1/auth/login", json=body, **_from("172.16.20.7"))
    assert outside.status_code == 403 and outside.json()["detail"]["code"] == "terminal_not_allowed"
    assert "ocr_session" not in proxied.cookies
    inside = proxied.post("/api/v1/auth/login", json=body, **_from("203.0.113.9, 172.16.10.7"))
    assert inside.status_code == 200
    # The session does not travel to another network either.
    assert proxied.get("/api/v1/auth/me", **_from("172.16.20.7")).status_code == 403
    set_scope(db, SYSTEM_SCOPE)
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login_refused_terminal"))


def test_forwarded_for_from_an_untrusted_peer_is_ignored(client: TestClient, db: Session) -> None:
    """GIVEN no trusted proxies WHEN a client claims an allowed address in X-Forwarded-For THEN refused."""
    org = make_org(db)
    org.policy = {"allowed_networks": ["172.16.10.0/24"]}
    user = make_user(db, org)
    db.commit()
    response = client.post(
        "/api/v1/auth/login",
        json={"username": user.username, "password": PASSWORD},
        headers={"X-Forwarded-For": "172.16.10.7"},
    )
    assert response.status_code == 403


def test_client_certificate_requirement(proxied: TestClient, db: Session) -> None:
    """GIVEN an organisation requiring a client certificate with subject CN=term-01 WHEN the trusted proxy
    passes no or another subject THEN 403; with CN=term-01 the login works."""
    org = make_org(db)
    org.policy = {"require_client_cert": True, "client_cert_subjects": ["CN=term-01,O=Higashiyama"]}
    user = make_user(db, org)
    db.commit()
    body = {"username": user.username, "password": PASSWORD}
    assert proxied.post("/api/v1/auth/login", json=body, **_from("172.16.10.7")).status_code == 403
    other = _from("172.16.10.7", **{"X-SSL-Client-S-DN": "CN=term-99,O=Higashiyama"})
    assert proxied.post("/api/v1/auth/login", json=body, **other).status_code == 403
    right = _from("172.16.10.7", **{"X-SSL-Client-S-DN": "CN=term-01,O=Higashiyama"})
    assert proxied.post("/api/v1/auth/login", json=body, **right).status_code == 200


def test_personal_data_documents_open_only_from_the_personal_data_network(
    proxied: TestClient, db: Session, store: LocalBlobStore
) -> None:
    """GIVEN a personal_data form's document and 個人情報系 = 172.20.0.0/16 WHEN the reviewer opens it, its
    page, its crop, the queue, or exports, from the SA network (172.30.1.5) THEN nothing of it is
    reachable (404 like a missing id); from 172.20.3.4 it opens."""
    org: Organisation = make_org(db)
    org.policy = {"personal_data_networks": ["172.20.0.0/16"]}
    user = make_user(db, org)
    form = make_form(db, org, store)
    form.personal_data = True
    document = make_recognized_document(db, user=user, form=form, store=store, values={"name": "山田"})
    field = db.scalars(select(FieldResult).where(FieldResult.document_id == document.id)).first()
    assert field is not None
    db.commit()
    proxied.headers["X-Forwarded-For"] = "172.30.1.5"
    login(proxied, user)
    urls = [
        f"/api/v1/documents/{document.id}",
        f"/api/v1/documents/{document.id}/pages/1/image",
        f"/api/v1/documents/{document.id}/fields/{field.id}/crop",
        f"/review/documents/{document.id}",
    ]
    for url in urls:
        assert proxied.get(url).status_code == 404, url
    assert proxied.get("/api/v1/review/queue").json() == []
    assert "個人情報系ネットワークにない" in proxied.get("/review").text
    patch = proxied.patch(
        f"/api/v1/review/documents/{document.id}/fields/{field.id}", json={"value": "x", "version": 1}
    )
    assert patch.status_code == 404
    proxied.headers["X-Forwarded-For"] = "172.20.3.4"
    for url in urls:
        assert proxied.get(url).status_code == 200, url
    assert [d["id"] for d in proxied.get("/api/v1/review/queue").json()] == [document.id]
    assert "個人情報系ネットワークにない" not in proxied.get("/review").text


def test_kept_exports_of_personal_data_forms_open_only_from_the_personal_data_network(
    proxied: TestClient, db: Session, store: LocalBlobStore
) -> None:
    """GIVEN a kept export of a personal_data form and 個人情報系 = 172.20.0.0/16 WHEN the reviewer lists or
    downloads past exports from the SA network THEN the export is not there (404 like a missing id); from
    172.20.3.4 it is listed and downloads."""
    from ocr_service.documents.status import DocumentStatus

    org: Organisation = make_org(db)
    org.policy = {"personal_data_networks": ["172.20.0.0/16"]}
    user = make_user(db, org)
    form = make_form(db, org, store)
    form.personal_data = True
    document = make_recognized_document(db, user=user, form=form, store=store, values={"name": "山田"})
    document.status = DocumentStatus.CONFIRMED
    db.commit()
    proxied.headers["X-Forwarded-For"] = "172.20.3.4"
    login(proxied, user)
    assert proxied.post("/api/v1/forms/simple/export.csv").status_code == 200
    (kept,) = proxied.get("/api/v1/exports").json()
    proxied.headers["X-Forwarded-For"] = "172.30.1.5"
    assert proxied.get("/api/v1/exports").json() == []
    assert proxied.get(f"/api/v1/exports/{kept['id']}/download").status_code == 404
    assert kept["filename"] not in proxied.get("/exports").text
    proxied.headers["X-Forwarded-For"] = "172.20.3.4"
    assert proxied.get(f"/api/v1/exports/{kept['id']}/download").status_code == 200
    assert kept["filename"] in proxied.get("/exports").text


def test_machine_tokens_are_held_to_the_networks_but_not_to_client_certificates(
    proxied: TestClient, db: Session
) -> None:
    """GIVEN an organisation limited to 172.16.10.0/24 that requires client certificates WHEN its scanner's
    bearer token calls from outside THEN 403; from inside, without a certificate, it works."""
    from ocr_service.auth.service import create_api_token

    org = make_org(db)
    org.policy = {"allowed_networks": ["172.16.10.0/24"], "require_client_cert": True}
    scanner = make_user(db, org, role="operator")
    token = create_api_token(db, user=scanner, name="scanner")
    db.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    assert (
        proxied.get("/api/v1/auth/me", headers={**bearer, "X-Forwarded-For": "172.16.20.7"}).status_code
        == 403
    )
    assert (
        proxied.get("/api/v1/auth/me", headers={**bearer, "X-Forwarded-For": "172.16.10.8"}).status_code
        == 200
    )


def test_replacing_an_authenticator_needs_the_password(client: TestClient, db: Session) -> None:
    """GIVEN an enrolled admin's session WHEN it enrols a new authenticator without the password THEN
    422 and the old one stays; with the password it is replaced."""
    admin = make_user(db, make_org(db), role="admin")
    db.commit()
    login(client, admin)  # enrols
    secret = client.post("/api/v1/auth/mfa/enrol").json()["secret"]
    code = pyotp.TOTP(secret).at(time.time() + 30)
    assert client.post("/api/v1/auth/mfa/confirm", json={"code": code}).status_code == 422
    replaced = client.post("/api/v1/auth/mfa/confirm", json={"code": code, "current_password": PASSWORD})
    assert replaced.status_code == 200


@pytest.mark.parametrize(
    ("address", "networks", "inside"),
    [
        ("::ffff:10.1.2.3", ["10.1.0.0/16"], True),  # IPv4 client on a dual-stack listener
        ("10.2.0.1", ["10.1.0.0/16"], False),
        ("fd00::1", ["fd00::/8"], True),
        ("testclient", ["0.0.0.0/0"], False),  # not an address: never inside
    ],
)
def test_network_membership(address: str, networks: list[str], inside: bool) -> None:
    """GIVEN a client address and CIDRs THEN membership is decided on parsed addresses only."""
    from ocr_service.auth.network import in_networks

    assert in_networks(address, networks) is inside
