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
from functools import partial
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.api.app import create_app
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.keys.service import Keys, session_info
from ocr_service.storage.blobs import LocalBlobStore
from tests.conftest import REDIS_URL
from tests.factories import login, make_form, make_org, make_user, sample_source
from tests.support.live_server import truncate_all
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
        task_soft_time_limit_s=60,
        task_time_limit_s=70,
        # Short lease and visibility timeout so a killed worker's document moves on within seconds.
        lease_ttl_s=6,
        broker_visibility_timeout_s=10,
        broker_restore_interval_s=2,
    )
    factory = sessionmaker(bind=engine, expire_on_commit=False, info=session_info(Keys.from_settings(settings)))
    yield settings, factory
    redis.Redis.from_url(REDIS_URL).delete(queue)
    truncate_all(engine)


def _worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "OCR_ENVIRONMENT": "test",
            "OCR_DATA_DIR": str(settings.data_dir),
            # The documents' wrapped data keys: API and workers must share this folder.
            "OCR_KEY_DIR": str(settings.resolved_key_dir),
            "OCR_DATABASE_URL": settings.resolved_database_url,
            "OCR_BROKER_URL": settings.resolved_broker_url,
            "OCR_STORAGE_KEY": settings.storage_key.get_secret_value(),
            "OCR_QUEUE_NAME": settings.queue_name,
            "OCR_TASK_SOFT_TIME_LIMIT_S": str(settings.task_soft_time_limit_s),
            "OCR_TASK_TIME_LIMIT_S": str(settings.task_time_limit_s),
            "OCR_BROKER_VISIBILITY_TIMEOUT_S": str(settings.broker_visibility_timeout_s),
            "OCR_LEASE_TTL_S": str(settings.lease_ttl_s),
            "OCR_BROKER_RESTORE_INTERVAL_S": str(settings.broker_restore_interval_s),
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
    # A reviewer corrects what the OCR misread, accepts every flagged field (confirm requires it)
    # and confirms; only confirmed documents are exported.
    for field in detail["fields"]:
        truth = values[field["field_name"]]
        expected = ("1" if truth else "0") if isinstance(truth, bool) else truth
        # Every field is accepted or corrected, flagged or not.
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


def _ready(log: Path) -> bool:
    return log.exists() and b" ready." in log.read_bytes()


def test_killed_worker_is_taken_over_by_another_within_30_s(live: tuple[Settings, sessionmaker[Session]], tmp_path: Path) -> None:
    """GIVEN two running workers and a 4-page upload WHEN the worker reading it is SIGKILLed (its whole
    process group, like a machine dying) after page 1 is stored THEN the other worker claims the document
    within 30 s of the kill and finishes it: every page read once, page 1 not again, no duplicate results; the batch ends as four one-page documents."""
    settings, factory = live
    client, _store, user = _setup_org(settings, factory)
    source = sample_source()
    values = sample_values_for(source.layout)
    page = render_filled_pdf(template_pdf=source.template_pdf, layout=source.layout, values=values, seed=1)
    pdf = render_filled_multi_pdf([page] * 4)
    logs = {"a": tmp_path / "worker-a.log", "b": tmp_path / "worker-b.log"}
    workers = {name: _start_worker(settings, log) for name, log in logs.items()}
    try:
        for name, log in logs.items():
            _wait_for(partial(_ready, log), timeout=120, what=f"worker {name} ready", log=log)
        login(client, user)  # type: ignore[arg-type]
        doc_id = client.post("/api/v1/documents", files={"file": ("scan.pdf", pdf, "application/pdf")}).json()["id"]

        def pages_done() -> list[Page]:
            with factory() as db:
                set_scope(db, SYSTEM_SCOPE)
                return list(db.scalars(select(Page).where(Page.document_id == doc_id, Page.status != "pending")))

        _wait_for(lambda: len(pages_done()) >= 1, timeout=120, what="first page", log=logs["a"])
        marker = f"ingest {doc_id} page".encode()
        holder = next(name for name, log in logs.items() if marker in log.read_bytes())
        other = "b" if holder == "a" else "a"
        _stop(workers[holder], signal.SIGKILL)
        killed_at = time.monotonic()
        done_before = {p.page_no: p.processed_at for p in pages_done()}
        assert len(done_before) < 4, "worker finished before it was killed; the test proves nothing"
        assert _document(factory, doc_id).status == "processing"
        with factory() as db:
            set_scope(db, SYSTEM_SCOPE)
            results_before = {r.id for r in db.scalars(select(FieldResult).where(FieldResult.document_id == doc_id))}
        _wait_for(lambda: _document(factory, doc_id).attempts >= 2, timeout=30, what="takeover within 30 s",
                  log=logs[other])
        takeover_s = time.monotonic() - killed_at
        _wait_for(lambda: _document(factory, doc_id).status == "recognized", timeout=150,
                  what="recovery by the other worker", log=logs[other])
    finally:
        for proc in workers.values():
            _stop(proc, signal.SIGKILL)
    print(f"taken over {takeover_s:.1f} s after the kill")
    document = _document(factory, doc_id)
    assert document.attempts == 2
    with factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        # The four filled forms of the batch became four documents, one page each.
        batch_docs = select(Document.id).where(Document.batch_id == document.batch_id)
        pages = list(db.scalars(select(Page).where(Page.document_id.in_(batch_docs)).order_by(Page.page_no)))
        results = list(db.scalars(select(FieldResult).where(FieldResult.document_id.in_(batch_docs))))
        split = list(db.scalars(select(Document).where(Document.batch_id == document.batch_id)))
    assert sorted((d.page_from, d.page_to, d.status) for d in split) == [(n, n, "recognized") for n in range(1, 5)]
    assert [p.status for p in pages] == ["ok"] * 4
    for p in pages:
        if p.page_no in done_before:
            assert p.processed_at == done_before[p.page_no], "a finished page was read again"
    assert results_before <= {r.id for r in results}
    assert len(results) == 4 * len(source.layout.fields)


def _pool_children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def test_killed_pool_process_is_redelivered_at_once_and_waits_out_the_lease(
    live: tuple[Settings, sessionmaker[Session]], tmp_path: Path
) -> None:
    """GIVEN one worker reading a 4-page upload WHEN only its pool process is SIGKILLed after page 1 (the
    worker's main process lives on) THEN Celery re-delivers the task at once, the redelivered task finds the
    dead process's lease still running, retries when it runs out instead of being dropped, takes the
    document over within 30 s of the kill and finishes it: attempts 2, each page read once."""
    settings, factory = live
    # A lease longer than a fresh pool process needs to load the model, so the redelivered task
    # surely finds it still running (the path under test) rather than already expired.
    settings = settings.model_copy(update={"lease_ttl_s": 15, "broker_visibility_timeout_s": 30})
    client, _store, user = _setup_org(settings, factory)
    source = sample_source()
    values = sample_values_for(source.layout)
    page = render_filled_pdf(template_pdf=source.template_pdf, layout=source.layout, values=values, seed=2)
    log = tmp_path / "worker.log"
    worker = _start_worker(settings, log)
    try:
        _wait_for(partial(_ready, log), timeout=120, what="worker ready", log=log)
        login(client, user)  # type: ignore[arg-type]
        doc_id = client.post("/api/v1/documents",
                             files={"file": ("scan.pdf", render_filled_multi_pdf([page] * 4), "application/pdf")}
                             ).json()["id"]

        def pages_done() -> dict[int, object]:
            with factory() as db:
                set_scope(db, SYSTEM_SCOPE)
                # Every page of the upload's batch: once read, the 4 forms are 4 documents.
                batch = select(Document.batch_id).where(Document.id == doc_id).scalar_subquery()
                rows = db.scalars(
                    select(Page)
                    .join(Document, Document.id == Page.document_id)
                    .where(Document.batch_id == batch, Page.status != "pending")
                )
                return {p.page_no: p.processed_at for p in rows}

        _wait_for(lambda: len(pages_done()) >= 1, timeout=120, what="first page", log=log)
        (child,) = _pool_children(worker.pid)
        os.kill(child, signal.SIGKILL)
        killed_at = time.monotonic()
        done_before = pages_done()
        assert len(done_before) < 4, "finished before the kill; the test proves nothing"
        _wait_for(lambda: _document(factory, doc_id).attempts >= 2, timeout=30,
                  what="takeover within 30 s of the pool process's death", log=log)
        print(f"taken over {time.monotonic() - killed_at:.1f} s after the kill")
        _wait_for(lambda: _document(factory, doc_id).status == "recognized", timeout=150,
                  what="the rest of the document", log=log)
    finally:
        _stop(worker)
    assert _document(factory, doc_id).attempts == 2
    assert b"held by a live worker; retrying" in log.read_bytes(), "the redelivered task did not wait for the lease"
    after = pages_done()
    assert sorted(after) == [1, 2, 3, 4]
    assert all(after[n] == done_before[n] for n in done_before), "a finished page was read again"
