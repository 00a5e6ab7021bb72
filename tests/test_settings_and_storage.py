"""Settings refuse unsafe production values; the blob store encrypts, detects tampering, writes atomically."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ocr_service.config import Settings
from ocr_service.keys.datakey import DataKey
from ocr_service.storage.blobs import BlobCorruptError, BlobNotFoundError, LocalBlobStore

STRONG = "x" * 40


def test_production_refuses_default_secrets() -> None:
    """GIVEN production WHEN secrets are the defaults THEN settings refuse to load."""
    with pytest.raises(ValidationError, match="OCR_SECRET_KEY"):
        Settings(environment="production", database_url="postgresql+psycopg://db/ocr")


def test_production_accepts_real_secrets_and_postgres() -> None:
    """GIVEN production with strong secrets and PostgreSQL THEN settings load; SQLite is refused."""
    Settings(
        environment="production",
        secret_key=STRONG,
        storage_key=STRONG,
        database_url="postgresql+psycopg://db/ocr",
        cookie_secure=True,
    )
    with pytest.raises(ValidationError, match="PostgreSQL"):
        Settings(environment="production", secret_key=STRONG, storage_key=STRONG)


def test_production_requires_secure_cookies() -> None:
    """GIVEN production WHEN cookies would also travel over plain HTTP THEN settings refuse to load."""
    with pytest.raises(ValidationError, match="OCR_COOKIE_SECURE"):
        Settings(
            environment="production",
            secret_key=STRONG,
            storage_key=STRONG,
            database_url="postgresql+psycopg://db/ocr",
        )


def test_visibility_timeout_is_short_but_longer_than_the_lease() -> None:
    """GIVEN the defaults THEN a lost message returns within minutes (not kombu's hour), after the lease;
    a visibility timeout at or below the lease is refused (every redelivery would only wait)."""
    defaults = Settings()
    assert defaults.lease_ttl_s < defaults.broker_visibility_timeout_s <= 300
    # Shorter than a task is fine now: the heartbeat lease stops a second reader.
    Settings(task_time_limit_s=660, task_soft_time_limit_s=600, broker_visibility_timeout_s=120)
    with pytest.raises(ValidationError, match="VISIBILITY"):
        Settings(lease_ttl_s=60, broker_visibility_timeout_s=60)


DOC_A = DataKey(owner="a" * 32, secret=b"\x01" * 32)
DOC_B = DataKey(owner="b" * 32, secret=b"\x02" * 32)


def test_blobs_are_encrypted_and_round_trip(tmp_path: Path) -> None:
    """GIVEN bytes WHEN stored with a document's key THEN the file does not contain them and get() returns them."""
    store = LocalBlobStore(tmp_path)
    key = store.put(b"secret personal data", dek=DOC_A)
    (path,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert b"secret personal data" not in path.read_bytes()
    assert store.get(key, dek=DOC_A) == b"secret personal data"
    assert store.owner_of(key) == DOC_A.owner
    assert not list(tmp_path.rglob(".tmp-*"))


def test_tampered_or_foreign_key_blob_is_refused(tmp_path: Path) -> None:
    """GIVEN a stored blob WHEN a byte flips, another document's key reads it, or it is copied
    under another object key THEN BlobCorruptError."""
    store = LocalBlobStore(tmp_path)
    key = store.put(b"data" * 10, dek=DOC_A)
    assert store.exists(key)
    with pytest.raises(BlobCorruptError):
        store.get(key, dek=DOC_B)
    with pytest.raises(BlobCorruptError):
        store.get(key, dek=DataKey(owner=DOC_A.owner, secret=b"\x03" * 32))
    (path,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    other = "0" * 32
    store.objects.put_bytes(other, path.read_bytes())
    with pytest.raises(BlobCorruptError):
        store.get(other, dek=DOC_A)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobCorruptError):
        store.get(key, dek=DOC_A)


def test_blob_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    """GIVEN a path-like key WHEN read THEN refused as not found."""
    store = LocalBlobStore(tmp_path / "root")
    with pytest.raises(BlobNotFoundError):
        store.get("../../etc/passwd", dek=DOC_A)
