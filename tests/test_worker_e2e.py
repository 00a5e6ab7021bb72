"""End to end through a real Celery worker on the real Redis and PostgreSQL of this machine.

The worker runs as a subprocess (its own process group, so the kill test can SIGKILL it
like a crashed machine). Data is committed for real; every table is emptied afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.api.app import create_app
from ocr_service.config import Settings
from ocr_service.db.base import Base
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.keys.service import Keys, session_info
from ocr_service.storage.blobs import LocalBlobStore
from tests.conftest import REDIS_URL
from tests.factories import login, make_form, make_org, make_user, sample_source
from tests.support.render import render_filled_multi_pdf, render_filled_pdf, sample_values_for
from workers.celery_app import INGEST_TASK, make_celery

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def live(tmp_path: Path, pg_url: str, engine: Engine) -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    queue = f"ocr-test-{os.getpid()}-{time.monotonic_ns()}"
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=pg_url,
        broker_url=REDIS_URL,
        storage_key="e2e-storage-key",
        queue_name=queue,
        task_soft_time_limit_s=15,
        task_time_limit_s=20,
        broker_visibility_timeout_s=25,
    )
    factory = sessionmaker(bind=engine, expire_on_commit=False, info=session_info(Keys.from_settings(settings)))
    yield settings, factory
    redis.Redis.from_url(REDIS_URL).delete(queue)
    with engine.begin() as conn:
        names = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def _worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "OCR_ENVIRONMENT": "test",
            "OCR_DATA_DIR": str(settings.data_dir),
            "OCR_DATABASE_URL": settings.resolved_database_url,
            "OCR_BROKER_URL": settings.resolved_broker_url,
            "OCR_STORAGE_KEY": settings.storage_key.get_secret_value(),
            "OCR_QUEUE_NAME": settings.queue_name,
            "OCR_TASK_SOFT_TIME_LIMIT_S": str(settings.task_soft_time_limit_s),
            "OCR_TASK_TIME_LIMIT_S": str(settings.task_time_limit_s),
            "OCR_BROKER_VISIBILITY_TIMEOUT_S": str(settings.broker_visibility_timeout_s),
            "OCR_WORKER_CONCURRENCY": "1",
        }
    )
    return env


def _start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", settings.queue_name,
            "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    with log.open("ab") as handle:
        return subprocess.Popen(argv, cwd=ROOT, env=_worker_env(settings), stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for(predicate: Callable[[], bool], *, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{log.read_text(errors='replace')[-4000:]}")


def _setup_org(settings: Settings, factory: sessionmaker[Session]) -> tuple[TestClient, LocalBlobStore, object]:
    store = LocalBlobStore(settings.resolved_storage_dir)
    celery = make_celery(settings)
    app = create_app(settings, session_factory=factory, store=store,
                     enqueue=lambda doc_id: celery.send_task(INGEST_TASK, args=[doc_id]))
    with factory() as db:
        org = make_org(db, "健康推進課")
        make_form(db, org, store, sample_source())
        user = make_user(db, org, role="reviewer")
        db.commit()
    return TestClient(app), store, user


def _document(factory: sessionmaker[Session], document_id: str) -> Document:
    with factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        document = db.get(Document, document_id)
        assert document is not None
        return document


# Fields rendered with a handwriting-style font whose values the engine must get exactly.
EXACT_FIELDS = ("postal_code", "phone", "child_furigana", "child_name", "birth_year", "birth_month", "birth_day", "entry_date")


def test_upload_is_recognised_by_a_real_worker_and_exported(live: tuple[Settings, sessionmaker[Session]], tmp_path: Path) -> None:
    """GIVEN a filled sample form rendered with known values WHEN uploaded through the API
    THEN a real worker recognises it, the values match, and the CSV row holds them."""
    settings, factory = live
    client, _store, user = _setup_org(settings, factory)
    source = sample_source()
    values = sample_values_for(source.layout)
    pdf = render_filled_pdf(template_pdf=source.template_pdf, layout=source.layout, values=values,
                            rotate_deg=0.6, shift_px=(9, -6), noise=0.03, seed=3)
    log = tmp_path / "worker.log"
    worker = _start_worker(settings, log)
    try:
        login(client, user)  # type: ignore[arg-type]
        response = client.post("/api/v1/documents", files={"file": ("scan.pdf", pdf, "application/pdf")})
        assert response.status_code == 201, response.text
        doc_id = response.json()["id"]
        _wait_for(lambda: _document(factory, doc_id).status in ("recognized", "failed"), timeout=120,
                  what="recognition", log=log)
    finally:
        _stop(worker)
    detail = client.get(f"/api/v1/documents/{doc_id}").json()
    assert detail["status"] == "recognized", (detail, log.read_text(errors="replace")[-3000:])
    read = {f["field_name"]: f["value"] for f in detail["fields"]}
    assert set(read) == {spec.name for spec in source.layout.fields}
    for name in EXACT_FIELDS:
        assert read[name] == values[name], (name, read[name], values[name])
    for spec in source.layout.fields:
        if spec.type == "checkbox":
            assert read[spec.name] == ("1" if values[spec.name] else "0"), spec.name
    # A reviewer corrects what the OCR misread and confirms; only confirmed documents are exported.
    for field in detail["fields"]:
        truth = values[field["field_name"]]
        expected = ("1" if truth else "0") if isinstance(truth, bool) else truth
        if field["value"] != expected:
            edit = client.patch(f"/api/v1/review/documents/{doc_id}/fields/{field['id']}",
                                json={"value": expected, "version": field["version"]})
            assert edit.status_code == 200, edit.text
    assert client.post(f"/api/v1/review/documents/{doc_id}/confirm").status_code == 200
    csv_text = client.post("/api/v1/forms/nyuyoji_kenshin/export.csv").content.decode("cp932")
    _header, row = csv_text.split("\r\n")[:2]
    assert doc_id in row
    cells = row.split(",")
    for name in EXACT_FIELDS:
        # The default export profile writes dates as zero-padded 西暦.
        assert (read[name] if name != "entry_date" else "2025/05/12") in cells, name


def test_killed_worker_leaves_the_document_to_the_next_one(live: tuple[Settings, sessionmaker[Session]], tmp_path: Path) -> None:
    """GIVEN a 4-page upload WHEN the worker is SIGKILLed after page 1 is stored
    THEN the next worker finishes it: every page done once, page 1 not read again, no duplicate results."""
    settings, factory = live
    client, _store, user = _setup_org(settings, factory)
    source = sample_source()
    values = sample_values_for(source.layout)
    page = render_filled_pdf(template_pdf=source.template_pdf, layout=source.layout, values=values, seed=1)
    pdf = render_filled_multi_pdf([page] * 4)
    log = tmp_path / "worker.log"
    first = _start_worker(settings, log)
    login(client, user)  # type: ignore[arg-type]
    doc_id = client.post("/api/v1/documents", files={"file": ("scan.pdf", pdf, "application/pdf")}).json()["id"]

    def pages_done() -> list[Page]:
        with factory() as db:
            set_scope(db, SYSTEM_SCOPE)
            return list(db.scalars(select(Page).where(Page.document_id == doc_id, Page.status != "pending")))

    try:
        _wait_for(lambda: len(pages_done()) >= 1, timeout=120, what="first page", log=log)
        _stop(first, signal.SIGKILL)
    finally:
        _stop(first, signal.SIGKILL)
    done_before = {p.page_no: p.processed_at for p in pages_done()}
    assert _document(factory, doc_id).status == "processing"
    assert len(done_before) < 4, "worker finished before it was killed; the test proves nothing"
    with factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        results_before = {r.id for r in db.scalars(select(FieldResult).where(FieldResult.document_id == doc_id))}

    second = _start_worker(settings, log)
    try:
        _wait_for(lambda: _document(factory, doc_id).status == "recognized", timeout=150,
                  what="recovery by the second worker", log=log)
    finally:
        _stop(second)
    document = _document(factory, doc_id)
    assert document.attempts == 2
    with factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        pages = list(db.scalars(select(Page).where(Page.document_id == doc_id).order_by(Page.page_no)))
        results = list(db.scalars(select(FieldResult).where(FieldResult.document_id == doc_id)))
    assert [p.status for p in pages] == ["ok"] * 4
    for p in pages:
        if p.page_no in done_before:
            assert p.processed_at == done_before[p.page_no], "a finished page was read again"
    assert results_before <= {r.id for r in results}
    assert len(results) == 4 * len(source.layout.fields)
