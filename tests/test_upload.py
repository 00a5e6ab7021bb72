"""Uploads: good PDFs are stored and queued after commit; bad ones get a clear 4xx and leave nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document
from ocr_service.keys.service import document_key
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import login, make_form, make_org, make_user, pdf_bytes


def _encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes())))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _blob_files(settings: Settings) -> list[Path]:
    root = settings.resolved_storage_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture()
def operator(client: TestClient, db: Session, store: LocalBlobStore) -> None:
    org = make_org(db)
    make_form(db, org, store)
    user = make_user(db, org, role="operator")
    db.commit()
    login(client, user)


def test_valid_pdf_is_stored_encrypted_and_enqueued_after_commit(
    client: TestClient,
    operator: None,
    db: Session,
    enqueued: list[str],
    settings: Settings,
    store: LocalBlobStore,
) -> None:
    """GIVEN an operator WHEN a 2-page PDF is uploaded THEN 201, row queued, blob encrypted, one task, audit event."""
    data = pdf_bytes(pages=2, text="plain-marker")
    blobs_before = set(_blob_files(settings))
    response = client.post(
        "/api/v1/documents", files={"file": ("../../etc/passwd.pdf", data, "application/pdf")}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "queued" and body["page_count"] == 2
    assert body["original_filename"] == "passwd.pdf"
    assert enqueued == [body["id"]]
    set_scope(db, SYSTEM_SCOPE)
    document = db.get(Document, body["id"])
    assert document is not None
    new_files = set(_blob_files(settings)) - blobs_before
    assert len(new_files) == 1
    (stored,) = new_files
    assert b"plain-marker" not in stored.read_bytes() and b"%PDF" not in stored.read_bytes()
    assert store.get(document.blob_key, dek=document_key(db, document_id=document.id)) == data
    assert db.scalar(
        select(AuditEvent).where(AuditEvent.action == "document.upload", AuditEvent.object_id == document.id)
    )


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("not a pdf", lambda: b"GIF89a" + b"\0" * 200, 422, "not_pdf"),
        ("truncated", lambda: pdf_bytes()[:-300], 422, "truncated"),
        ("encrypted", _encrypted_pdf, 422, "encrypted"),
        ("too many pages", lambda: pdf_bytes(pages=6), 422, "too_many_pages"),
        ("empty", lambda: b"", 422, "empty"),
        ("garbage after header", lambda: b"%PDF-1.7\n" + b"\x00garbage" * 50 + b"\n%%EOF\n", 422, "corrupt"),
    ],
)
def test_bad_uploads_get_a_readable_4xx_and_leave_nothing(
    client: TestClient,
    operator: None,
    db: Session,
    enqueued: list[str],
    settings: Settings,
    name: str,
    make: object,
    status: int,
    code: str,
) -> None:
    """GIVEN a bad file WHEN uploaded THEN a 4xx with a Japanese reason, no row, no blob, no task."""
    blobs_before = set(_blob_files(settings))
    response = client.post("/api/v1/documents", files={"file": ("x.pdf", make(), "application/pdf")})  # type: ignore[operator]
    assert response.status_code == status, (name, response.text)
    detail = response.json()["detail"]
    assert detail["code"] == code
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in detail["message"])
    set_scope(db, SYSTEM_SCOPE)
    assert db.scalars(select(Document)).all() == []
    assert set(_blob_files(settings)) == blobs_before
    assert enqueued == []


def test_oversized_upload_is_413(client: TestClient, operator: None, settings: Settings) -> None:
    """GIVEN the size limit WHEN a larger file arrives THEN 413 too_large."""
    data = pdf_bytes() + b"%" * (settings.max_upload_bytes + 10)
    response = client.post("/api/v1/documents", files={"file": ("big.pdf", data, "application/pdf")})
    assert response.status_code == 413
    assert response.json()["detail"]["code"] == "too_large"


def test_unknown_form_code_is_refused(client: TestClient, operator: None, enqueued: list[str]) -> None:
    """GIVEN no form 'nope' WHEN uploading with it THEN 422 naming the problem."""
    response = client.post(
        "/api/v1/documents",
        files={"file": ("x.pdf", pdf_bytes(), "application/pdf")},
        data={"form_code": "nope"},
    )
    assert response.status_code == 422 and response.json()["detail"]["code"] == "unknown_form"
    assert enqueued == []


def test_enqueue_failure_keeps_the_document_for_the_sweeper(
    client: TestClient, db: Session, store: LocalBlobStore
) -> None:
    """GIVEN the broker is down WHEN uploading THEN 201 and the document stays queued (beat re-sends it)."""
    org = make_org(db)
    make_form(db, org, store)
    user = make_user(db, org, role="operator")
    db.commit()

    def broken(_document_id: str) -> None:
        raise ConnectionError("broker down")

    client.app.state.runtime.enqueue = broken  # type: ignore[attr-defined]
    login(client, user)
    response = client.post("/api/v1/documents", files={"file": ("x.pdf", pdf_bytes(), "application/pdf")})
    assert response.status_code == 201
    assert response.json()["status"] == "queued"
