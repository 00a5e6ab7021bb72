"""Uploads: good PDFs are stored and queued after commit; bad ones get a clear 4xx and leave nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.api.health import default_probes
from ocr_service.audit.models import AuditEvent
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document
from ocr_service.documents.uploads import UploadGate
from ocr_service.keys.service import document_key
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import login, make_form, make_org, make_user, pdf_bytes
from tests.support.hostile_pdfs import many_objects, object_stream_bomb


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


def _is_japanese(message: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in message)


def test_pypdf_limit_error_is_a_clean_422(
    client: TestClient, operator: None, db: Session, enqueued: list[str]
) -> None:
    """GIVEN an object-stream bomb (inflates past pypdf's limit) WHEN uploaded THEN 422 too_complex, nothing kept."""
    response = client.post(
        "/api/v1/documents", files={"file": ("bomb.pdf", object_stream_bomb(), "application/pdf")}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["code"] == "too_complex"
    assert _is_japanese(response.json()["detail"]["message"])
    set_scope(db, SYSTEM_SCOPE)
    assert db.scalars(select(Document)).all() == [] and enqueued == []


SECRET = b"%PDF-1.7 PERSONAL-DATA-\xe5\xb1\xb1\xe7\x94\xb0-MARKER"


@pytest.mark.parametrize(
    ("name", "request_kwargs", "status", "code"),
    [
        ("missing file field", {"data": {"form_code": "simple"}, "files": {"other": ("a.pdf", SECRET)}}, 422, "missing_file"),
        ("duplicate file parts", {"files": [("file", ("a.pdf", SECRET)), ("file", ("b.pdf", SECRET))]}, 422, "duplicate_file"),
        ("missing filename", {"files": {"file": ("", SECRET, "application/pdf")}}, 422, "missing_filename"),
        ("not multipart", {"content": SECRET, "headers": {"content-type": "application/pdf"}}, 415, "not_multipart"),
        (
            # The closing boundary never comes: the part is incomplete, so there is no file.
            "truncated multipart",
            {"content": b"--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n" + SECRET,
             "headers": {"content-type": "multipart/form-data; boundary=xx"}},
            422,
            "missing_file",
        ),
        (
            "part without headers",
            {"content": b"--xx\r\nnot a header line\r\n\r\n" + SECRET + b"\r\n--xx--\r\n",
             "headers": {"content-type": "multipart/form-data; boundary=xx"}},
            400,
            "malformed_multipart",
        ),
        ("no boundary", {"content": SECRET, "headers": {"content-type": "multipart/form-data"}}, 400, "malformed_multipart"),
    ],
)
def test_malformed_upload_requests_get_a_japanese_4xx_without_echoing_the_body(
    client: TestClient,
    operator: None,
    db: Session,
    enqueued: list[str],
    name: str,
    request_kwargs: dict[str, object],
    status: int,
    code: str,
) -> None:
    """GIVEN a broken upload request WHEN posted THEN a 4xx with a stable code and a Japanese message,
    the body's bytes appear nowhere in the answer, and nothing is stored."""
    response = client.post("/api/v1/documents", **request_kwargs)
    assert response.status_code == status, (name, response.text)
    detail = response.json()["detail"]
    assert detail["code"] == code, name
    assert _is_japanese(detail["message"])
    assert b"PERSONAL-DATA" not in response.content and b"MARKER" not in response.content
    set_scope(db, SYSTEM_SCOPE)
    assert db.scalars(select(Document)).all() == [] and enqueued == []


def test_large_part_without_filename_is_refused_in_japanese(client: TestClient, operator: None) -> None:
    """GIVEN a >1 MB file part with no filename (Starlette takes it for a text field) THEN 422 missing_filename."""
    body = b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + b"A" * (1100 * 1024) + b"\r\n--b--\r\n"
    response = client.post(
        "/api/v1/documents", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 422 and response.json()["detail"]["code"] == "missing_filename"
    assert b"AAAA" not in response.content


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    """GIVEN a login body of the wrong shape carrying a secret WHEN posted THEN 422 in Japanese, no echo."""
    response = client.post("/api/v1/auth/login", json={"username": ["SECRET-PASSWORD-MARKER"], "password": 5})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "invalid_request" and _is_japanese(detail["message"])
    assert "SECRET-PASSWORD-MARKER" not in response.text and "input" not in response.text


def test_upload_past_its_time_budget_is_refused_and_leaves_nothing(
    client: TestClient, operator: None, db: Session, enqueued: list[str], settings: Settings
) -> None:
    """GIVEN a tiny time budget WHEN a PDF that takes longer to inspect is uploaded THEN 422 too_slow, nothing kept."""
    client.app.state.runtime.upload_gate = UploadGate(threads=1, budget_s=0.01)  # type: ignore[attr-defined]
    blobs_before = set(_blob_files(settings))
    response = client.post(
        "/api/v1/documents", files={"file": ("many.pdf", many_objects(20_000), "application/pdf")}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["code"] == "too_slow"
    set_scope(db, SYSTEM_SCOPE)
    assert db.scalars(select(Document)).all() == [] and enqueued == []
    assert set(_blob_files(settings)) == blobs_before


def test_readyz_checks_database_broker_and_storage(client: TestClient, settings: Settings) -> None:
    """GIVEN the real PostgreSQL and Redis THEN /readyz 200 with each check ok; a dead broker makes it 503."""
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}
    assert client.get("/healthz").json() == {"status": "ok"}
    dead = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.probes = default_probes(dead, session_factory=runtime.session_factory, store=runtime.store)
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["broker"] == "fail" and not_ready.json()["checks"]["database"] == "ok"


def test_chunked_body_without_length_is_cut_off_at_the_limit(
    client: TestClient, operator: None, settings: Settings, db: Session
) -> None:
    """GIVEN a body sent chunked (no Content-Length) far over the limit WHEN uploaded THEN 413, nothing stored."""
    head = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n\r\n"

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(settings.max_upload_bytes // (256 * 1024) + 4):
            yield b"%" * (256 * 1024)
        yield b"\r\n--b--\r\n"

    response = client.post(
        "/api/v1/documents", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 413 and response.json()["detail"]["code"] == "too_large"
    set_scope(db, SYSTEM_SCOPE)
    assert db.scalars(select(Document)).all() == []


def test_framework_errors_answer_with_a_code_and_japanese(client: TestClient) -> None:
    """GIVEN an unknown path and a wrong method THEN 404 / 405 with a stable code and a Japanese message."""
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json()["detail"]["code"] == "not_found"
    wrong = client.put("/healthz")
    assert wrong.status_code == 405 and wrong.json()["detail"]["code"] == "method_not_allowed"
    assert _is_japanese(wrong.json()["detail"]["message"]) and "allow" in {k.lower() for k in wrong.headers}


def test_upload_gate_answers_busy_instead_of_queueing_without_end() -> None:
    """GIVEN a gate with one thread (two places) held by slow uploads WHEN a third arrives THEN 429 busy at once;
    once they finish, uploads are taken again."""
    import asyncio
    import threading

    from ocr_service.documents.service import UploadError

    gate = UploadGate(threads=1, budget_s=30)
    release = threading.Event()

    def slow(_deadline: object) -> str:
        release.wait(10)
        return "done"

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(gate.run(slow))
        second = asyncio.ensure_future(gate.run(slow))
        await asyncio.sleep(0.05)
        with pytest.raises(UploadError) as busy:
            await gate.run(slow)
        assert busy.value.status == 429 and busy.value.code == "busy"
        release.set()
        results: list[object] = list(await asyncio.gather(first, second))
        results.append(await gate.run(lambda _d: "again"))
        return results

    assert asyncio.run(scenario()) == ["done", "done", "again"]
    gate.shutdown()
