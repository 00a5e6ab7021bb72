"""Factories for rows the tests need. They flush but do not commit (the test transaction rolls back)."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import httpx
import pyotp
from fastapi.testclient import TestClient
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from sqlalchemy.orm import Session

from ocr_service.api.security import CSRF_COOKIE, CSRF_HEADER
from ocr_service.auth.models import User
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource, load_layout_file
from ocr_service.forms.models import FormDefinition
from ocr_service.forms.service import publish_form_version
from ocr_service.orgs.models import Organisation
from ocr_service.orgs.service import create_user, get_or_create_organisation
from ocr_service.storage.blobs import BlobStore

PASSWORD = "correct-horse-battery-staple"
_counter = itertools.count(1)


def make_org(db: Session, name: str | None = None) -> Organisation:
    set_scope(db, SYSTEM_SCOPE)
    return get_or_create_organisation(db, name=name or f"テスト課{next(_counter)}")


def make_user(db: Session, org: Organisation, *, role: str = "reviewer", username: str | None = None) -> User:
    set_scope(db, SYSTEM_SCOPE)
    return create_user(
        db,
        org=org,
        username=username or f"user{next(_counter)}",
        password=PASSWORD,
        role=role,
        must_change_password=False,
    )


def pdf_bytes(pages: int = 1, text: str = "test") -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    for number in range(pages):
        pdf.drawString(72, 720, f"{text} page {number + 1}")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def simple_layout(code: str = "simple") -> LayoutSource:
    layout = FormLayout.model_validate(
        {
            "code": code,
            "title": "テスト様式",
            "fields": [
                {"name": "name", "label": "氏名", "box": [100, 100, 300, 130], "type": "text"},
                {"name": "agree", "label": "同意", "box": [100, 150, 115, 165], "type": "checkbox"},
            ],
        }
    )
    return LayoutSource(layout=layout, template_pdf=pdf_bytes(), origin=Path("test"))


def sample_source() -> LayoutSource:
    return load_layout_file(Path(__file__).resolve().parent.parent / "form_definitions" / "nyuyoji_kenshin")


def make_form(
    db: Session, org: Organisation, store: BlobStore, source: LayoutSource | None = None
) -> FormDefinition:
    set_scope(db, SYSTEM_SCOPE)
    return publish_form_version(db, org_id=org.id, source=source or simple_layout(), store=store)


# Recovery codes of accounts the login helper enrolled in MFA, for their later logins in the test
# (a TOTP code cannot be used twice within its 30 s step).
_recovery_codes: dict[str, list[str]] = {}


def login(client: TestClient, user: User, password: str = PASSWORD) -> None:
    """Log ``client`` in as ``user``; later requests send the session's CSRF token like the screens do.

    Accounts that must enrol an authenticator (admins, by default) are enrolled on the way, with
    a code computed here, exactly as a person would; later logins use one of its recovery codes.
    """
    body = {"username": user.username, "password": password}
    response = client.post("/api/v1/auth/login", json=body)
    if response.status_code == 401 and response.json()["detail"]["code"] == "mfa_required":
        codes = _recovery_codes.get(user.username)
        assert codes, f"{user.username} has MFA but the login helper does not know its codes"
        response = client.post("/api/v1/auth/login", json={**body, "otp": codes.pop()})
    assert response.status_code == 200, response.text
    use_csrf_token(client)
    if response.json()["stage"] == "mfa_enrol":
        enrol_mfa(client, user)


def enrol_mfa(client: TestClient, user: User) -> str:
    """Enrol the logged-in ``client`` in TOTP; returns the secret (recovery codes kept for login)."""
    secret = str(client.post("/api/v1/auth/mfa/enrol").json()["secret"])
    confirmed = client.post("/api/v1/auth/mfa/confirm", json={"code": pyotp.TOTP(secret).now()})
    assert confirmed.status_code == 200, confirmed.text
    _recovery_codes[user.username] = list(confirmed.json()["secret"])
    use_csrf_token(client)
    return secret


def use_csrf_token(client: TestClient | httpx.Client) -> None:
    """Send the CSRF token of the client's current session with every request (as review.js does)."""
    token = client.cookies.get(CSRF_COOKIE)
    if token:
        client.headers[CSRF_HEADER] = token
    else:
        client.headers.pop(CSRF_HEADER, None)


def enrol_totp(db: Session, user: User, *, secret_key: str) -> pyotp.TOTP:
    """Give ``user`` an authenticator directly in the database (for browser tests that sign an admin in:
    type ``totp.now()`` into the login screen's 確認コード field after the password)."""
    from ocr_service.auth import mfa

    secret = pyotp.random_base32()
    user.totp_secret = mfa.seal(secret_key=secret_key, plaintext=secret)
    db.flush()
    return pyotp.TOTP(secret)
