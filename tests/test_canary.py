"""Canary: a marked document goes through the real pipeline, review and export, then the retention
run erases it; afterwards the marker and every recognised value are found nowhere, and a database
backup taken before the run yields nothing readable (its data key is gone).

Two installations, each with a real Celery worker running the real pipeline: the embedded
default (SQLite database, SQLite broker, local files) and PostgreSQL + Redis.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.api.app import create_app
from ocr_service.config import Settings
from ocr_service.db.base import make_engine
from ocr_service.db.migrate import upgrade_database
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, FieldResult
from ocr_service.documents.sealing import open_field_results
from ocr_service.keys.service import KeyErasedError, Keys, document_key, session_info
from ocr_service.review.service import as_aware
from ocr_service.storage.blobs import LocalBlobStore
from tests.conftest import PG_ADMIN_URL, REDIS_URL
from tests.factories import login, make_form, make_org, make_user, sample_source
from tests.support.render import render_filled_pdf, sample_values_for
from tests.test_worker_e2e import _start_worker, _stop, _wait_for
from workers.celery_app import INGEST_TASK, make_celery

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
MARKER = "CANARY-Q7X4-Z9K2"
"""In the uploaded PDF's bytes; the reviewer also types it (with Japanese) into a field."""
TYPED = f"カナリア検体{MARKER}"


def _needles(values: Iterable[str]) -> dict[str, list[bytes]]:
    """Each value as it could sit in a file: UTF-8, UTF-16, Shift_JIS, JSON \\u escapes."""
    out: dict[str, list[bytes]] = {}
    for value in {v for v in values if len(v.strip()) >= 4}:
        forms = {value.encode("utf-8"), value.encode("utf-16-le"), json.dumps(value)[1:-1].encode("ascii")}
        with contextlib.suppress(UnicodeEncodeError):
            forms.add(value.encode("cp932"))
        out[value] = sorted(forms)
    return out


_HEX = frozenset(b"0123456789abcdef")


def _occurs(data: bytes, form: bytes) -> bool:
    """``form`` occurs in ``data`` as a value of its own. A number or hex string inside a longer run of
    hex digits is not one: the audit chain stores SHA-256 hex and ids, and SQLite stores times with
    microseconds (…:03.123120), where a short number such as 3120 turns up by chance."""
    if not set(form) <= _HEX:
        return form in data
    start = data.find(form)
    while start != -1:
        left, right = start, start + len(form)
        while left > 0 and data[left - 1] in _HEX:
            left -= 1
        while right < len(data) and data[right] in _HEX:
            right += 1
        if right - left == len(form):
            return True
        start = data.find(form, start + 1)
    return False


def _found(data: bytes, needles: dict[str, list[bytes]]) -> set[str]:
    return {value for value, forms in needles.items() if any(_occurs(data, f) for f in forms)}


def _scan_dir(root: Path, needles: dict[str, list[bytes]]) -> dict[str, set[str]]:
    hits = {}
    for path in root.rglob("*"):
        if path.is_file():
            found = _found(path.read_bytes(), needles)
            if found:
                hits[str(path.relative_to(root))] = found
    return hits


def _scan_redis(url: str, needles: dict[str, list[bytes]]) -> set[str]:
    client = redis.Redis.from_url(url)
    found: set[str] = set()
    for key in client.scan_iter():
        raw_kind: Any = client.type(key)
        kind = raw_kind.decode() if isinstance(raw_kind, bytes) else str(raw_kind)
        items: list[Any] = [key]
        if kind == "string":
            items.append(client.get(key) or b"")
        elif kind == "list":
            items += client.lrange(key, 0, -1)
        elif kind == "hash":
            items += [b for pair in client.hgetall(key).items() for b in pair]
        elif kind == "set":
            items += list(client.smembers(key))
        elif kind == "zset":
            items += client.zrange(key, 0, -1)
        for item in items:
            found |= _found(item, needles)
            # Celery/kombu messages carry their body base64-encoded inside JSON.
            with contextlib.suppress(ValueError, KeyError, TypeError):
                found |= _found(base64.b64decode(json.loads(item)["body"]), needles)
    return found


def _canary_app(settings: Settings) -> tuple[Engine, sessionmaker[Session], LocalBlobStore, FastAPI]:
    """The API on the settings' database and blob dir, enqueueing to a real Celery broker."""
    engine = make_engine(settings.resolved_database_url)
    factory = sessionmaker(
        bind=engine, expire_on_commit=False, info=session_info(Keys.from_settings(settings))
    )
    store = LocalBlobStore(settings.resolved_storage_dir)
    celery = make_celery(settings)
    app = create_app(
        settings,
        session_factory=factory,
        store=store,
        enqueue=lambda doc_id: celery.send_task(INGEST_TASK, args=[doc_id]),
    )
    return engine, factory, store, app


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env.update(
        {
            "OCR_ENVIRONMENT": "test",
            "OCR_DATA_DIR": str(settings.data_dir),
            "OCR_DATABASE_URL": settings.resolved_database_url,
            "OCR_BROKER_URL": settings.broker_url,
            "OCR_STORAGE_KEY": settings.storage_key.get_secret_value(),
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "ocr_service.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _upload_review_export(
    client: TestClient, factory: sessionmaker[Session], store: LocalBlobStore
) -> tuple[str, bytes]:
    """Seed an org, upload the marked PDF; returns the document id and the PDF."""
    with factory() as db:
        org = make_org(db, "カナリア課")
        make_form(db, org, store, sample_source())
        user = make_user(db, org, role="admin")
        db.commit()
    source = sample_source()
    values = sample_values_for(source.layout) | {"phone": "090-7391-4826", "postal_code": "7391482"}
    pdf = render_filled_pdf(template_pdf=source.template_pdf, layout=source.layout, values=values, seed=11)
    pdf += f"\n%{MARKER}\n".encode()
    login(client, user)
    response = client.post("/api/v1/documents", files={"file": ("canary.pdf", pdf, "application/pdf")})
    assert response.status_code == 201, response.text
    return response.json()["id"], pdf


def _review_and_export(client: TestClient, document_id: str) -> set[str]:
    """Reviewer types the marker into a field, confirms, exports; returns every value read or typed."""
    detail = client.get(f"/api/v1/documents/{document_id}").json()
    assert detail["status"] == "recognized", detail
    recognised = {f["value"] for f in detail["fields"]}
    target = next(f for f in detail["fields"] if f["field_name"] == "concerns")
    edit = client.patch(
        f"/api/v1/review/documents/{document_id}/fields/{target['id']}",
        json={"value": TYPED, "version": target["version"]},
    )
    assert edit.status_code == 200, edit.text
    confirm = client.post(f"/api/v1/review/documents/{document_id}/confirm")
    if confirm.status_code == 422 and confirm.json()["detail"]["code"] == "unseen_fields":
        # Confirm needs every flagged field seen: accept (Enter on) the ones it names, then confirm.
        by_id = {f["id"]: f for f in detail["fields"]}
        for unseen in confirm.json()["detail"]["fields"]:
            field = by_id[unseen["id"]]
            seen = client.patch(
                f"/api/v1/review/documents/{document_id}/fields/{field['id']}",
                json={"value": field["value"], "version": field["version"]},
            )
            assert seen.status_code == 200, seen.text
        confirm = client.post(f"/api/v1/review/documents/{document_id}/confirm")
    assert confirm.status_code == 200, confirm.text
    csv_text = client.post("/api/v1/forms/nyuyoji_kenshin/export.csv").content.decode("cp932")
    assert TYPED in csv_text and document_id in csv_text  # the marker really flowed through export
    assert client.get(f"/api/v1/documents/{document_id}").json()["status"] == "exported"
    return recognised | {TYPED, MARKER}


def _run_retention(settings: Settings, factory: sessionmaker[Session], document_id: str) -> dict[str, object]:
    with factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        uploaded = as_aware(db.get_one(Document, document_id).created_at)
    run = _cli(settings, "retention", "run", "--now", (uploaded + timedelta(days=6)).isoformat())
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["erased"] == 1, result
    return dict(result)


def _backup_is_unreadable(
    backup_factory: sessionmaker[Session], store: LocalBlobStore, document_id: str
) -> None:
    """The restored backup still holds the document's sealed rows and blob keys, but nothing opens."""
    with backup_factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        document = db.get_one(Document, document_id)
        rows = list(db.scalars(select(FieldResult).where(FieldResult.document_id == document_id)))
        assert rows, "backup holds no rows: the check would prove nothing"
        assert not any(TYPED in r.value_sealed or MARKER in r.value_sealed for r in rows)
        with pytest.raises(KeyErasedError):
            open_field_results(db, rows)
        with pytest.raises(KeyErasedError):
            store.get(document.blob_key, dek=document_key(db, document_id=document_id))


def _check_certificate(settings: Settings, result: dict[str, object], tmp_path: Path) -> None:
    certificates: Any = result["certificates"]
    (certificate,) = certificates
    path = Path(str(result["certificate_dir"])) / f"{certificate['id']}.json"
    assert _cli(settings, "retention", "verify", str(path)).returncode == 0
    tampered = tmp_path / "tampered.json"
    tampered.write_text(
        path.read_text(encoding="utf-8").replace('"page_count": 1', '"page_count": 2'), encoding="utf-8"
    )
    verify = _cli(settings, "retention", "verify", str(tampered))
    assert verify.returncode == 1 and "INVALID" in verify.stderr


def test_canary_embedded_sqlite(tmp_path: Path) -> None:
    """GIVEN the embedded installation (SQLite, local files) WHEN a marked PDF is read by the real
    pipeline, reviewed, exported and `retention run --now upload+6d` runs THEN the marker and every
    recognised value are in no file of the data dir (SQLite file and WAL included), and a backup
    of the database from before the run opens nothing."""
    settings = Settings(environment="test", data_dir=tmp_path / "var", storage_key="canary-storage-key")
    upgrade_database(settings.resolved_database_url)
    # The embedded broker (kombu's SQLAlchemy transport on SQLite in the data dir) and a real worker.
    engine, factory, store, app = _canary_app(settings)
    log = tmp_path / "worker.log"
    worker = _start_worker(settings, log)
    try:
        with TestClient(app) as client:
            document_id, pdf = _upload_review_export(client, factory, store)
            _wait_for(
                lambda: _status(factory, document_id) in ("recognized", "failed"),
                timeout=180,
                what="recognition",
                log=log,
            )
            _stop(worker)
            values = _review_and_export(client, document_id)
            needles = _needles(values)
            assert _found(pdf, needles)  # the scanner finds the marker where it is in clear
            assert (
                _scan_dir(settings.data_dir, needles) == {}
            )  # nothing in clear at rest, before erase either
            backup = tmp_path / "backup.sqlite3"
            with sqlite3.connect(settings.data_dir / "ocr.sqlite3") as live, sqlite3.connect(backup) as copy:
                live.backup(copy)
            shutil.copytree(settings.resolved_storage_dir, tmp_path / "backup-blobs")
            result = _run_retention(settings, factory, document_id)
            gone = client.get(f"/api/v1/documents/{document_id}")
            assert (
                gone.status_code == 410
                and "保存期間が過ぎたため削除されました" in gone.json()["detail"]["message"]
            )
        assert _scan_dir(settings.data_dir, needles) == {}
        assert {p.name for p in settings.data_dir.iterdir()} >= {"ocr.sqlite3", "broker.sqlite3"}
        _check_certificate(settings, result, tmp_path)
        backup_engine = make_engine(f"sqlite:///{backup}")
        backup_factory = sessionmaker(bind=backup_engine, info=session_info(Keys.from_settings(settings)))
        _backup_is_unreadable(backup_factory, LocalBlobStore(tmp_path / "backup-blobs"), document_id)
        backup_engine.dispose()
    finally:
        _stop(worker)
        engine.dispose()


def _status(factory: sessionmaker[Session], document_id: str) -> str:
    with factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        return db.get_one(Document, document_id).status


@pytest.fixture()
def canary_pg() -> Iterator[str]:
    name = f"ocrsvc_canary_{uuid.uuid4().hex[:8]}"
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
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}_restored" WITH (FORCE)'))
        admin.dispose()


def _pg_dump(url: str, *args: str) -> bytes:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(["pg_dump", *args, plain], check=True, capture_output=True, timeout=120).stdout


def test_canary_postgresql_redis_real_worker(tmp_path: Path, canary_pg: str) -> None:
    """GIVEN PostgreSQL, Redis and a real Celery worker WHEN the marked PDF is read, reviewed,
    exported and erased THEN the marker and recognised values are in no pg_dump, no Redis key and
    no file of the data dir, and a pg_dump taken before the run, restored, opens nothing."""
    queue = f"ocr-canary-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=canary_pg,
        broker_url=REDIS_URL,
        storage_key="canary-pg-key",
        queue_name=queue,
        task_soft_time_limit_s=60,
        task_time_limit_s=70,
        broker_visibility_timeout_s=90,
    )
    engine, factory, store, app = _canary_app(settings)
    log = tmp_path / "worker.log"
    worker = _start_worker(settings, log)
    try:
        with TestClient(app) as client:
            document_id, pdf = _upload_review_export(client, factory, store)

            _wait_for(
                lambda: _status(factory, document_id) in ("recognized", "failed"),
                timeout=180,
                what="recognition",
                log=log,
            )
            _stop(worker)
            values = _review_and_export(client, document_id)
            needles = _needles(values)
            assert _found(pdf, needles)
            before = _pg_dump(canary_pg, "--data-only")
            assert _found(before, needles) == set()  # sealed at rest before the erase too
            backup = tmp_path / "before.dump"
            backup.write_bytes(_pg_dump(canary_pg, "-Fc"))
            _run_retention(settings, factory, document_id)
            assert client.get(f"/api/v1/documents/{document_id}").status_code == 410
        assert _found(_pg_dump(canary_pg, "--data-only"), needles) == set()
        assert _scan_redis(REDIS_URL, needles) == set()
        assert _scan_dir(settings.data_dir, needles) == {}
        restored = canary_pg + "_restored"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{restored.rsplit("/", 1)[1]}"'))
        admin.dispose()
        subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "-d",
                restored.replace("postgresql+psycopg://", "postgresql://"),
                str(backup),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        restored_engine = make_engine(restored)
        _backup_is_unreadable(
            sessionmaker(bind=restored_engine, info=session_info(Keys.from_settings(settings))),
            store,
            document_id,
        )
        restored_engine.dispose()
    finally:
        _stop(worker)
        redis.Redis.from_url(REDIS_URL).delete(queue)
        engine.dispose()
