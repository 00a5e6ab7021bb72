"""Server side of the scanner bridge: idempotent uploads, scanner images, heartbeats, bridge list."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.auth.models import User
from ocr_service.auth.service import create_api_token
from ocr_service.db.base import utcnow
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, UploadReceipt
from ocr_service.keys.service import Keys, document_key, session_info
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import login, make_form, make_org, make_user, pdf_bytes


@pytest.fixture()
def operator(client: TestClient, db: Session, store: LocalBlobStore) -> User:
    org = make_org(db)
    make_form(db, org, store)
    user = make_user(db, org, role="operator")
    db.commit()
    login(client, user)
    return user


def _image(fmt: str, pages: int = 1, mode: str = "L") -> bytes:
    fill: int | tuple[int, ...] = (200, 200, 200, 255)[: len(mode)] if mode in ("RGB", "RGBA") else 1
    frames = [Image.new(mode, (400, 560), fill) for _ in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, format=fmt, save_all=pages > 1, append_images=frames[1:], dpi=(200, 200))
    return out.getvalue()


def _documents(db: Session) -> list[Document]:
    set_scope(db, SYSTEM_SCOPE)
    db.expire_all()
    return list(db.scalars(select(Document)))


def test_same_file_twice_is_one_document(
    client: TestClient, operator: User, db: Session, enqueued: list[str]
) -> None:
    """GIVEN a PDF uploaded once WHEN the same bytes arrive again (another name) THEN 200 with the first
    document, duplicate true, the same SHA-256, nothing stored or queued again, and an audit event."""
    data = pdf_bytes(text="once")
    first = client.post("/api/v1/documents", files={"file": ("a.pdf", data, "application/pdf")})
    again = client.post(
        "/api/v1/documents",
        files={"file": ("b.pdf", data, "application/pdf")},
        data={"source": "スキャナー1"},
    )
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    assert again.json()["batch_id"] == first.json()["batch_id"]
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["sha256"] == first.json()["sha256"]
    assert enqueued == [first.json()["id"]]
    assert len(_documents(db)) == 1
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "document.upload_duplicate"))
    assert event is not None and event.detail["source"] == "スキャナー1"


def test_an_upload_that_passed_the_lookup_before_the_first_committed_is_a_duplicate(
    client: TestClient, operator: User, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a file already uploaded WHEN a second upload of it had looked for it just before the first one
    committed (simulated: its first look-up misses) THEN its receipt claim fails and it answers with the
    first document as a duplicate; nothing is stolen, one document exists."""
    from ocr_service.documents import service

    data = pdf_bytes(text="late claim")
    first = client.post("/api/v1/documents", files={"file": ("a.pdf", data, "application/pdf")}).json()
    real_lookup = service.find_recent_upload
    calls: list[str] = []

    def miss_once(db: Session, *, sha256: str, retention_days: int) -> Document | None:
        calls.append(sha256)
        return None if len(calls) == 1 else real_lookup(db, sha256=sha256, retention_days=retention_days)

    monkeypatch.setattr(service, "find_recent_upload", miss_once)
    again = client.post("/api/v1/documents", files={"file": ("b.pdf", data, "application/pdf")})
    assert again.status_code == 200 and again.json()["id"] == first["id"] and again.json()["duplicate"]
    assert len(_documents(db)) == 1
    receipt = db.scalar(select(UploadReceipt))
    assert receipt is not None and receipt.document_id == first["id"]


def test_same_file_after_the_retention_period_is_a_new_document(
    client: TestClient, operator: User, db: Session
) -> None:
    """GIVEN an upload whose receipt is older than the retention period WHEN the file comes again
    THEN it is a new document (the old one is due for deletion anyway)."""
    data = pdf_bytes(text="old")
    first = client.post("/api/v1/documents", files={"file": ("a.pdf", data, "application/pdf")}).json()
    set_scope(db, SYSTEM_SCOPE)
    db.execute(update(UploadReceipt).values(created_at=utcnow() - timedelta(days=6)))
    db.commit()
    again = client.post("/api/v1/documents", files={"file": ("a.pdf", data, "application/pdf")})
    assert again.status_code == 201 and again.json()["id"] != first["id"]
    receipt = db.scalar(select(UploadReceipt))
    assert receipt is not None and receipt.document_id == again.json()["id"]


@pytest.mark.parametrize(
    ("fmt", "pages", "mode"),
    [("JPEG", 1, "RGB"), ("PNG", 1, "L"), ("PNG", 1, "RGBA"), ("TIFF", 3, "L"), ("TIFF", 2, "1")],
)
def test_scanner_images_become_pdf_documents(
    client: TestClient, operator: User, db: Session, store: LocalBlobStore, fmt: str, pages: int, mode: str
) -> None:
    """GIVEN a JPEG / PNG / multi-page TIFF scan WHEN uploaded THEN one PDF document with one page per
    frame; the answer carries the SHA-256 of the file as sent (what the bridge compares)."""
    import hashlib

    data = _image(fmt, pages, mode)
    response = client.post("/api/v1/documents", files={"file": (f"scan.{fmt.lower()}", data, "image/x")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["page_count"] == pages
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    (document,) = _documents(db)
    assert store.get(document.blob_key, dek=document_key(db, document_id=document.id)).startswith(b"%PDF-")


def test_broken_image_is_refused_in_japanese(client: TestClient, operator: User, db: Session) -> None:
    """GIVEN bytes that start like a PNG but are not one WHEN uploaded THEN 422 corrupt_image, nothing stored."""
    response = client.post(
        "/api/v1/documents", files={"file": ("x.png", b"\x89PNG\r\n\x1a\n" + b"junk" * 50, "image/png")}
    )
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "corrupt_image"
    assert "画像" in response.json()["detail"]["message"]
    assert _documents(db) == []


def test_tiff_with_too_many_pages_is_refused(client: TestClient, operator: User) -> None:
    """GIVEN max_pages 5 WHEN a 6-page TIFF arrives THEN 422 too_many_pages (before converting it all)."""
    response = client.post("/api/v1/documents", files={"file": ("x.tif", _image("TIFF", 6), "image/tiff")})
    assert response.status_code == 422 and response.json()["detail"]["code"] == "too_many_pages"


def test_image_bomb_is_refused_as_too_large(client: TestClient, operator: User) -> None:
    """GIVEN a small PNG that declares 20000×20000 pixels WHEN uploaded THEN 413 too_large, never decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )
    response = client.post("/api/v1/documents", files={"file": ("bomb.png", png, "image/png")})
    assert response.status_code == 413 and response.json()["detail"]["code"] == "too_large"


def _beat(**extra: object) -> dict[str, object]:
    return {
        "name": "健康課スキャナー1",
        "version": "0.1.0",
        "hostname": "SCAN-PC01",
        "hot_folders": ["D:\\Scan\\乳幼児健診 → nyuyoji_kenshin"],
        "queued": 2,
        "quarantined": 1,
        **extra,
    }


def test_heartbeat_with_machine_token_and_admin_list(client: TestClient, db: Session) -> None:
    """GIVEN a machine token WHEN its bridge sends heartbeats THEN one row per bridge, registered once in the
    audit log; the admin sees it in JSON and on /admin/bridges with its state; an error is audited and shown."""
    org = make_org(db)
    machine = make_user(db, org, role="operator")
    admin = make_user(db, org, role="admin")
    token = create_api_token(db, user=machine, name="scanner")
    db.commit()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/bridges/heartbeat", json=_beat(), headers=auth).status_code == 200
    assert client.post("/api/v1/bridges/heartbeat", json=_beat(queued=0), headers=auth).status_code == 200
    failing = _beat(queued=0, last_error="サーバーに接続できません", last_error_at=utcnow().isoformat())
    assert client.post("/api/v1/bridges/heartbeat", json=failing, headers=auth).status_code == 200
    assert client.get("/api/v1/bridges", headers=auth).status_code == 403  # the machine is no admin
    login(client, admin)
    (row,) = client.get("/api/v1/bridges").json()
    assert row["name"] == "健康課スキャナー1" and row["queued"] == 0 and row["quarantined"] == 1
    assert row["state"] == "error" and row["state_label"] == "エラー"
    page = client.get("/admin/bridges")
    assert page.status_code == 200 and "健康課スキャナー1" in page.text and "エラー" in page.text
    set_scope(db, SYSTEM_SCOPE)
    actions = [e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.action.like("bridge.%")))]
    assert (
        actions.count("bridge.register") == 1 and "bridge.error" in actions and "bridge.list_view" in actions
    )


def test_bridge_screen_is_for_administrators(client: TestClient, db: Session) -> None:
    """GIVEN no login THEN /admin/bridges sends to the login page; an operator gets 403."""
    response = client.get("/admin/bridges", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    user = make_user(db, make_org(db), role="operator")
    db.commit()
    login(client, user)
    assert client.get("/admin/bridges").status_code == 403


def test_heartbeat_is_for_machine_tokens_only(client: TestClient, db: Session) -> None:
    """GIVEN an operator logged in with a browser session WHEN posting a heartbeat THEN 403 (machines only)."""
    org = make_org(db)
    user = make_user(db, org, role="operator")
    db.commit()
    login(client, user)
    response = client.post("/api/v1/bridges/heartbeat", json=_beat())
    assert response.status_code == 403 and response.json()["detail"]["code"] == "machine_token_required"


def test_heartbeat_needs_a_valid_token(client: TestClient) -> None:
    """GIVEN no or a wrong token WHEN a heartbeat arrives THEN 401."""
    assert client.post("/api/v1/bridges/heartbeat", json=_beat()).status_code == 401
    bad = {"Authorization": "Bearer ocrt_nope"}
    assert client.post("/api/v1/bridges/heartbeat", json=_beat(), headers=bad).status_code == 401


@pytest.fixture()
def own_pg_url() -> Iterator[str]:
    """A PostgreSQL database of its own: the race needs committed rows, which must not leak into other tests."""
    import uuid

    from sqlalchemy import create_engine, text

    from ocr_service.db.migrate import upgrade_database
    from tests.conftest import PG_ADMIN_URL

    name = f"ocrsvc_race_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade_database(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_racing_uploads_of_one_file_make_one_document(
    own_pg_url: str, tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN four sessions uploading the same new file at the same moment (PostgreSQL, committed data), each
    past the "already uploaded?" look-up before any committed THEN exactly one creates the document, the
    unique receipt turns the three others into duplicates of it, and the blobs they had stored are deleted."""
    import threading
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from ocr_service.auth.service import Principal
    from ocr_service.db.scoping import OrgScope
    from ocr_service.documents import service
    from ocr_service.documents.service import UploadLimits, UploadResult, upload_document

    real_lookup = service.find_recent_upload
    looked_up: set[int] = set()

    def first_lookup_misses(db: Session, *, sha256: str, retention_days: int) -> Document | None:
        # Each thread's first look-up sees nothing, as if all four arrived before any commit.
        if threading.get_ident() not in looked_up:
            looked_up.add(threading.get_ident())
            return None
        return real_lookup(db, sha256=sha256, retention_days=retention_days)

    monkeypatch.setattr(service, "find_recent_upload", first_lookup_misses)

    engine = create_engine(own_pg_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False, info=session_info(keys))
    store = LocalBlobStore(tmp_path / "blobs")
    with factory() as db:
        org = make_org(db, f"競合課{uuid.uuid4().hex[:6]}")
        make_form(db, org, store)
        user = make_user(db, org, role="operator")
        db.commit()
        principal = Principal(user_id=user.id, org_id=org.id, role="operator", username=user.username)
    blobs_before = {p for p in (tmp_path / "blobs").rglob("*") if p.is_file()}
    data = pdf_bytes(text=f"race {uuid.uuid4().hex}")
    barrier = threading.Barrier(4)
    results: list[UploadResult] = []
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            with factory() as db:
                set_scope(db, OrgScope(org.id))
                barrier.wait()
                results.append(
                    upload_document(
                        db,
                        principal=principal,
                        data=data,
                        filename="race.pdf",
                        form_code=None,
                        limits=UploadLimits(max_bytes=10_000_000, max_pages=5),
                        retention_days=5,
                        store=store,
                        enqueue=lambda _id: None,
                    )
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()
    assert errors == [] and len(results) == 4
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert len({r.document.id for r in results}) == 1
    new_blobs = {p for p in (tmp_path / "blobs").rglob("*") if p.is_file()} - blobs_before
    assert len(new_blobs) == 1
