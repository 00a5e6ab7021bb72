"""Document leases: short, renewed by a heartbeat while the worker lives, and owned by a token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.db.base import new_id, utcnow
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document
from ocr_service.documents.processing import (
    claim_document,
    mark_failed,
    mark_recognized,
    renew_lease,
    take_stale_documents,
)
from ocr_service.documents.sealing import seal_document_name
from ocr_service.keys.service import Keys, create_document_key, session_info
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import make_org, make_user, pdf_bytes
from tests.support.live_server import truncate_all
from workers.ingest import DocumentHeldError, LeaseHeartbeat, LeaseLostError, run_ingest
from workers.tasks import retry_countdown

LEASE = timedelta(seconds=30)


def _document(db: Session, store: LocalBlobStore) -> Document:
    org = make_org(db)
    user = make_user(db, org, role="operator")
    set_scope(db, SYSTEM_SCOPE)
    data = pdf_bytes()
    document_id = new_id()
    dek = create_document_key(db, document_id=document_id)
    document = Document(
        id=document_id, org_id=org.id, uploaded_by=user.id,
        original_filename_sealed=seal_document_name(db, document_id=document_id, name="a.pdf"),
        sha256="0" * 64, size_bytes=len(data), page_count=1, blob_key=store.put(data, dek=dek), status="queued",
    )
    db.add(document)
    db.commit()
    return document


def test_a_live_lease_is_held_and_only_its_token_renews_or_finishes_it(db: Session, store: LocalBlobStore) -> None:
    """GIVEN a document claimed by worker A WHEN worker B tries THEN 'held' until A's lease;
    B's token cannot renew, finish or fail it; A's can."""
    document = _document(db, store)
    assert claim_document(db, document_id=document.id, token="a" * 32, lease=LEASE).outcome == "claimed"
    held = claim_document(db, document_id=document.id, token="b" * 32, lease=LEASE)
    assert held.outcome == "held" and held.lease_expires_at is not None
    assert held.lease_expires_at > utcnow() + timedelta(seconds=20)
    assert not renew_lease(db, document_id=document.id, token="b" * 32, lease=LEASE)
    assert not mark_recognized(db, document_id=document.id, token="b" * 32)
    mark_failed(db, document_id=document.id, reason="x", token="b" * 32)
    db.refresh(document)
    assert document.status == "processing"
    assert renew_lease(db, document_id=document.id, token="a" * 32, lease=LEASE)
    assert mark_recognized(db, document_id=document.id, token="a" * 32)
    assert claim_document(db, document_id=document.id, token="c" * 32, lease=LEASE).outcome == "gone"


def test_an_expired_lease_is_taken_over_at_once_and_the_old_holder_is_locked_out(
    db: Session, store: LocalBlobStore
) -> None:
    """GIVEN A's lease ran out (A died) WHEN B claims THEN B holds it (attempt 2) and A can no longer renew."""
    document = _document(db, store)
    claim_document(db, document_id=document.id, token="a" * 32, lease=timedelta(seconds=-1))
    assert claim_document(db, document_id=document.id, token="b" * 32, lease=LEASE).outcome == "claimed"
    db.refresh(document)
    assert document.attempts == 2 and document.lease_token == "b" * 32
    assert not renew_lease(db, document_id=document.id, token="a" * 32, lease=LEASE)


def test_the_sweep_waits_past_the_lease_before_resending(db: Session, store: LocalBlobStore) -> None:
    """GIVEN a lease that just ran out THEN the sweep leaves it to the redelivered task; long expired: re-sent."""
    document = _document(db, store)
    claim_document(db, document_id=document.id, token="a" * 32, lease=timedelta(seconds=-5))
    assert take_stale_documents(db, older_than=timedelta(seconds=120)) == []
    claim_document(db, document_id=document.id, token="b" * 32, lease=timedelta(seconds=-300))
    assert take_stale_documents(db, older_than=timedelta(seconds=120)) == [document.id]


def test_run_ingest_on_a_held_document_asks_to_retry_after_the_lease(db: Session, store: LocalBlobStore) -> None:
    """GIVEN a document a live worker holds WHEN a redelivered task runs THEN DocumentHeldError with the lease end,
    and the task's countdown lands just after it (bounded by one TTL)."""
    document = _document(db, store)
    claim_document(db, document_id=document.id, token="a" * 32, lease=timedelta(seconds=20))
    runtime: Any = SimpleNamespace(
        settings=SimpleNamespace(lease_ttl_s=30), session_factory=lambda: _NoClose(db), store=store, pipeline=None
    )
    with pytest.raises(DocumentHeldError) as caught:
        run_ingest(document_id=document.id, runtime=runtime)
    assert 19 <= retry_countdown(caught.value.until, lease_ttl_s=30) <= 22
    assert retry_countdown(None, lease_ttl_s=30) == 1.0
    assert retry_countdown(utcnow() + timedelta(hours=1), lease_ttl_s=30) == 31.0


class _NoClose:
    """The test's session as a context manager that leaves it open (the fixture owns it)."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def __enter__(self) -> Session:
        return self.db

    def __exit__(self, *_exc: object) -> None:
        return None


@pytest.fixture()
def committed(engine: Engine, keys: Keys) -> Iterator[sessionmaker[Session]]:
    """Real commits (the heartbeat runs in its own thread and session); every table emptied afterwards."""
    yield sessionmaker(bind=engine, expire_on_commit=False, info=session_info(keys))
    truncate_all(engine)


def test_heartbeat_renews_while_alive_and_reports_a_takeover(
    committed: sessionmaker[Session], tmp_path: Path
) -> None:
    """GIVEN a 3 s lease held with a heartbeat WHEN 4 s pass THEN it is still held (renewed);
    WHEN another worker's token replaces it THEN the heartbeat reports the loss."""
    store = LocalBlobStore(tmp_path)
    with committed() as db:
        document = _document(db, store)
        lease = timedelta(seconds=3)
        claim_document(db, document_id=document.id, token="a" * 32, lease=lease)
    runtime: Any = SimpleNamespace(session_factory=committed)
    with LeaseHeartbeat(runtime, document_id=document.id, token="a" * 32, lease=lease) as heartbeat:
        time.sleep(4.2)
        with committed() as db:
            set_scope(db, SYSTEM_SCOPE)
            assert claim_document(db, document_id=document.id, token="b" * 32, lease=lease).outcome == "held"
            heartbeat.check()
            db.execute(text("UPDATE documents SET lease_token = :t WHERE id = :i"), {"t": "b" * 32, "i": document.id})
            db.commit()
        deadline = time.monotonic() + 5
        while not heartbeat.lost.is_set() and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(LeaseLostError):
            heartbeat.check()
