"""Upgrading an installation with data from before envelope encryption (migration 0006)."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import sessionmaker

from ocr_service.config import Settings
from ocr_service.db.base import make_engine
from ocr_service.db.migrate import upgrade_database
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, FieldResult
from ocr_service.documents.sealing import open_audit_values, open_field_results
from ocr_service.keys.service import Keys, document_key, installation_key, session_info
from ocr_service.storage.blobs import LocalBlobStore


def _old_blob(root: Path, material: str, data: bytes) -> str:
    key = secrets.token_hex(16)
    nonce = secrets.token_bytes(12)
    aead = AESGCM(hashlib.sha256(material.encode()).digest())
    (root / key[:2]).mkdir(parents=True, exist_ok=True)
    (root / key[:2] / key).write_bytes(b"OCRB1" + nonce + aead.encrypt(nonce, data, key.encode("ascii")))
    return key


def test_pre_0006_documents_get_a_data_key_and_sealed_values(tmp_path: Path, monkeypatch: object) -> None:
    """GIVEN a database at revision 0003 with a document in the old format (single-key blobs,
    clear values, clear audit old/new) WHEN upgraded THEN its blobs open with its own data key,
    its values and audit values are sealed, and the template opens with the installation key."""
    import pytest

    settings = Settings(environment="test", data_dir=tmp_path, storage_key="legacy-key")
    url = settings.resolved_database_url
    upgrade_database(url, "0003")
    blobs = settings.resolved_storage_dir
    template, pdf, crop = (
        _old_blob(blobs, "legacy-key", d) for d in (b"%PDF template", b"%PDF upload", b"PNG crop")
    )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO organisations (id, name, kind, created_at) VALUES (1, 'A', 'department', '2026-01-01')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO users (id, org_id, username, display_name, password_hash, role, is_active, "
                "password_changed_at, created_at) "
                "VALUES (1, 1, 'u', 'u', 'x', 'reviewer', 1, '2026-01-01', '2026-01-01')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO form_definitions (id, org_id, code, version, title, status, layout, template_blob_key, "
                "template_sha256, layout_sha256, created_at) "
                "VALUES ('f1', 1, 'c', 1, 't', 'published', '{}', :k, '0', '0', '2026-01-01')"
            ),
            {"k": template},
        )
        conn.execute(
            sa.text(
                "INSERT INTO documents (id, org_id, form_id, uploaded_by, original_filename, sha256, size_bytes, page_count, "
                "blob_key, status, attempts, updated_at, created_at) VALUES ('d' || :id, 1, 'f1', 1, 'a.pdf', "
                "'0', 1, 1, :k, 'recognized', 1, '2026-01-01', '2026-01-01')"
            ),
            {"id": "1" * 31, "k": pdf},
        )
        doc_id = "d" + "1" * 31
        conn.execute(
            sa.text(
                "INSERT INTO pages (id, org_id, document_id, page_no, layout_page, status, inliers) "
                "VALUES ('p1', 1, :d, 1, 1, 'ok', 0)"
            ),
            {"d": doc_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO field_results (id, org_id, document_id, page_id, field_name, value, confidence, "
                "char_confidences, crop_blob_key, status, version, updated_at, reason) "
                "VALUES ('r1', 1, :d, 'p1', 'name', '山田太郎', 0.9, '[]', :k, 'ok', 2, '2026-01-01', '「山田太郎」を確認')"
            ),
            {"d": doc_id, "k": crop},
        )
        conn.execute(
            sa.text(
                "INSERT INTO audit_events (org_id, user_id, action, object_type, object_id, detail, created_at) "
                "VALUES (1, 1, 'review.field_edit', 'field_result', 'r1', :detail, '2026-01-01')"
            ),
            {"detail": json.dumps({"document": doc_id, "field": "name", "old": "山田", "new": "山田太郎"})},
        )
    engine.dispose()
    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OCR_STORAGE_KEY", "legacy-key")
    from ocr_service.config import get_settings

    get_settings.cache_clear()
    try:
        upgrade_database(url)
    finally:
        get_settings.cache_clear()
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, info=session_info(Keys.from_settings(settings)))
    store = LocalBlobStore(blobs)
    with factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        document = db.get_one(Document, doc_id)
        assert store.get(document.blob_key, dek=document_key(db, document_id=doc_id)) == b"%PDF upload"
        (result,) = open_field_results(db, db.scalars(sa.select(FieldResult)))
        assert result.value == "山田太郎" and result.value_sealed != "山田太郎"
        assert result.reason == "「山田太郎」を確認" and "山田" not in (result.reason_sealed or "")
        assert store.get(result.crop_blob_key or "", dek=document_key(db, document_id=doc_id)) == b"PNG crop"
        detail = db.execute(sa.text("SELECT detail FROM audit_events")).scalar_one()
        detail = json.loads(detail) if isinstance(detail, str) else detail
        assert "山田" not in json.dumps(detail, ensure_ascii=False)
        assert open_audit_values(
            db, document_id=doc_id, action="review.field_edit", sealed=detail["sealed"]
        ) == {"old": "山田", "new": "山田太郎"}
        template_key = db.execute(sa.text("SELECT template_blob_key FROM form_definitions")).scalar_one()
        assert store.get(template_key, dek=installation_key(db)) == b"%PDF template"
    engine.dispose()
    assert not list(blobs.rglob("*")) or all(
        not p.read_bytes().startswith(b"OCRB1") for p in blobs.rglob("*") if p.is_file()
    )
