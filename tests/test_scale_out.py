"""Scale-out on shared object storage: two workers with separate local disks share one S3 store.

The S3 side is a real wire-protocol server in its own process (``moto`` in server mode,
standing in for MinIO, whose binary is not on the package registries here); the service
talks to it through the same boto3 client code it uses against MinIO in production.

Blobs are envelope-encrypted: the bucket holds only ciphertext under each document's own data
key, and those (wrapped) keys are not in the bucket but in ``OCR_KEY_DIR``. A worker needs the
document's key to read it, so every host mounts the same key folder (a shared volume in
production, docs/scale.md); here all hosts get the same key dir but separate data (blob) dirs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.api.app import create_app
from ocr_service.api.health import default_probes
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, Page
from ocr_service.keys.datakey import DataKey
from ocr_service.keys.service import document_key
from ocr_service.storage.backends import ObjectNotFoundError, S3ObjectStore, make_object_store
from ocr_service.storage.blobs import BlobCorruptError, BlobNotFoundError, blob_store_from_settings
from tests.factories import login, make_form, make_org, make_user, sample_source
from tests.support.live_server import free_port
from tests.support.render import render_filled_pdf, sample_values_for
from tests.test_worker_e2e import _ready, _stop, _wait_for, _worker_env, live  # noqa: F401
from workers.celery_app import INGEST_TASK, make_celery

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def s3_endpoint(tmp_path: Path) -> Iterator[str]:
    """An S3 server process (moto) on a free port; always stopped."""
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "moto.log").read_text(errors="replace")) from None
                time.sleep(0.2)
        yield endpoint
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def _s3_settings(settings: Settings, endpoint: str, bucket: str, data_dir: Path, *, key_dir: Path) -> Settings:
    """A host's settings: its own data dir (local disk), the shared bucket and the shared key folder."""
    return settings.model_copy(
        update={
            "storage_backend": "s3",
            "s3_endpoint_url": endpoint,
            "s3_bucket": bucket,
            "s3_access_key_id": SecretStr("testing"),
            "s3_secret_access_key": SecretStr("testing"),
            "data_dir": data_dir,
            "key_dir": key_dir,
        }
    )


def _s3_env(settings: Settings) -> dict[str, str]:
    env = _worker_env(settings)
    env.update(
        {
            "OCR_STORAGE_BACKEND": "s3",
            "OCR_S3_ENDPOINT_URL": settings.s3_endpoint_url,
            "OCR_S3_BUCKET": settings.s3_bucket,
            "OCR_S3_ACCESS_KEY_ID": "testing",
            "OCR_S3_SECRET_ACCESS_KEY": "testing",
        }
    )
    return env


def _start(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", settings.queue_name,
            "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    with log.open("ab") as handle:
        return subprocess.Popen(argv, cwd=ROOT, env=_s3_env(settings), stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


@pytest.mark.slow
def test_two_workers_with_separate_disks_share_one_s3_store(
    live: tuple[Settings, sessionmaker[Session]],  # noqa: F811 (the fixture imported above)
    s3_endpoint: str,
    tmp_path: Path,
) -> None:
    """GIVEN an API host and two worker hosts, each with its own data directory, one S3 bucket and one
    shared key folder (OCR_KEY_DIR) WHEN a batch of four documents is uploaded THEN both workers read
    documents, every page of a document is read by the worker that took it, all are recognised, and
    every blob is in the bucket, encrypted with its document's data key."""
    base, factory = live
    bucket = f"ocr-{uuid.uuid4().hex[:12]}"
    # The session factory's key service (from ``live``) uses base's key dir: that is the shared one.
    shared_keys = base.resolved_key_dir
    api_settings = _s3_settings(base, s3_endpoint, bucket, tmp_path / "api-host", key_dir=shared_keys)
    store = blob_store_from_settings(api_settings)
    celery = make_celery(api_settings)
    app = create_app(api_settings, session_factory=factory, store=store,
                     enqueue=lambda doc_id: celery.send_task(INGEST_TASK, args=[doc_id]))
    client = TestClient(app)
    source = sample_source()
    with factory() as db:
        org = make_org(db, "市民課")
        make_form(db, org, store, source)
        user = make_user(db, org, role="reviewer")
        db.commit()
    hosts = {
        name: _s3_settings(base, s3_endpoint, bucket, tmp_path / f"worker-{name}", key_dir=shared_keys)
        for name in ("a", "b")
    }
    logs = {name: tmp_path / f"worker-{name}.log" for name in hosts}
    workers = {name: _start(cfg, logs[name]) for name, cfg in hosts.items()}
    try:
        for name, log in logs.items():
            _wait_for(partial(_ready, log), timeout=120, what=f"worker {name} ready", log=log)
        login(client, user)
        values = sample_values_for(source.layout)
        ids = []
        for seed in range(4):
            pdf = render_filled_pdf(template_pdf=source.template_pdf, layout=source.layout, values=values, seed=seed)
            response = client.post("/api/v1/documents", files={"file": (f"scan{seed}.pdf", pdf, "application/pdf")})
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])

        def statuses() -> list[str]:
            with factory() as db:
                set_scope(db, SYSTEM_SCOPE)
                return [d.status for d in db.scalars(select(Document).where(Document.id.in_(ids)))]

        _wait_for(lambda: all(s in ("recognized", "failed") for s in statuses()), timeout=240,
                  what="the batch", log=logs["a"])
    finally:
        for proc in workers.values():
            _stop(proc)
    assert statuses() == ["recognized"] * 4, [logs[n].read_text(errors="replace")[-2000:] for n in logs]
    readers: dict[str, set[str]] = {}
    for doc_id in ids:
        marker = f"ingest {doc_id} page".encode()
        took = {name for name, log in logs.items() if marker in log.read_bytes()}
        assert len(took) == 1, (doc_id, took)
        readers.setdefault(took.pop(), set()).add(doc_id)
    assert set(readers) == {"a", "b"}, f"one worker read the whole batch: {readers}"
    # No blob landed on a worker's local disk; page images and crops are in the shared bucket.
    for cfg in hosts.values():
        assert not [p for p in cfg.resolved_storage_dir.rglob("*") if p.is_file()] if cfg.resolved_storage_dir.exists() else True
        # ...and no data key either: they were all read from the shared key folder.
        assert not list((cfg.data_dir / "keys").rglob("*.key")) if (cfg.data_dir / "keys").exists() else True
    objects = make_object_store(api_settings)
    assert isinstance(objects, S3ObjectStore)
    keys = list(objects.iter_keys())
    with factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        pages = [p for p in db.scalars(select(Page).where(Page.document_id.in_(ids))) if p.image_blob_key]
        page_keys = [p.image_blob_key for p in pages]
        assert page_keys and all(k in keys for k in page_keys)
        for key in keys[:5]:
            raw = objects.get_bytes(key)
            assert not raw.startswith(b"%PDF") and not raw.startswith(b"\x89PNG")
        # Each page image is under its own document's key: it reads back with that key, not another's.
        first, second = pages[0], next(p for p in pages if p.document_id != pages[0].document_id)
        assert first.image_blob_key and second.image_blob_key
        dek = document_key(db, document_id=first.document_id)
        assert store.get(first.image_blob_key, dek=dek).startswith(b"\x89PNG")
        assert store.owner_of(second.image_blob_key) == second.document_id
        with pytest.raises(BlobCorruptError):
            store.get(second.image_blob_key, dek=dek)


def test_s3_object_store_semantics_and_readiness(s3_endpoint: str, settings: Settings, tmp_path: Path) -> None:
    """GIVEN an S3 server WHEN blobs are stored through the settings-built store with a document's data key
    THEN the bucket holds only ciphertext under hex keys, another document's key cannot read it, its
    modification time is known, missing keys read as not found, deletes stick, a foreign key is refused,
    and /readyz reports storage ok, then fail once the bucket is gone."""
    cfg = _s3_settings(settings, s3_endpoint, f"ocr-{uuid.uuid4().hex[:12]}", tmp_path, key_dir=tmp_path / "keys")
    store = blob_store_from_settings(cfg)
    objects = store.objects
    assert isinstance(objects, S3ObjectStore)
    dek = DataKey(owner="a" * 32, secret=os.urandom(32))
    before = time.time()
    key = store.put(b"%PDF-1.7 personal data", dek=dek)
    assert store.get(key, dek=dek) == b"%PDF-1.7 personal data"
    assert list(objects.iter_keys()) == [key]
    assert b"personal" not in objects.get_bytes(key)
    assert store.owner_of(key) == dek.owner
    with pytest.raises(BlobCorruptError):
        store.get(key, dek=DataKey(owner="b" * 32, secret=os.urandom(32)))
    # The orphan sweep's grace period works on S3 too (LastModified, whole seconds).
    assert before - 2 <= objects.modified_at(key) <= time.time() + 2
    with pytest.raises(ObjectNotFoundError):
        objects.modified_at("0" * 32)
    assert store.exists(key) and not store.exists("0" * 32)
    with pytest.raises(BlobNotFoundError):
        store.get("0" * 32, dek=dek)
    with pytest.raises(BlobNotFoundError):
        store.get("../../etc/passwd", dek=dek)
    store.delete(key)
    assert not store.exists(key)
    checks = default_probes(cfg, session_factory=sessionmaker(), store=store)
    checks["storage"]()
    objects._client.delete_bucket(Bucket=cfg.s3_bucket)
    with pytest.raises(Exception, match=r"404|NoSuchBucket|Not Found"):
        checks["storage"]()
