"""Acceptance 1: tampering with the audit log is found, with the first bad sequence number.

Each database (SQLite file, PostgreSQL) gets its own migrated database with committed events and a
signed checkpoint. Every tamper case runs inside a transaction that is rolled back afterwards, so
the cases do not disturb each other; ``audit verify`` reads through that same transaction.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, create_engine, delete, func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ocr_service.audit.chain import event_hash, values_of
from ocr_service.audit.checkpoints import verify_audit_log
from ocr_service.audit.models import AuditChainHead, AuditEvent
from ocr_service.audit.operations import run_checkpoint
from ocr_service.audit.service import SYSTEM, SystemPrincipal, audit
from ocr_service.cli.main import app as cli_app
from ocr_service.config import Settings
from ocr_service.db.base import make_engine
from ocr_service.db.migrate import upgrade_database
from tests.conftest import PG_ADMIN_URL

EVENTS = cast(Table, AuditEvent.__table__)
HEAD = cast(Table, AuditChainHead.__table__)
EVENTS_BEFORE_CHECKPOINT = 20
EVENTS_AFTER_CHECKPOINT = 4


@dataclass
class Log:
    engine: Engine
    settings: Settings
    url: str
    checkpoint_seq: int
    last_seq: int


def _fill(factory: sessionmaker[Session], n: int, *, start: int = 0) -> None:
    with factory() as db:
        for i in range(start, start + n):
            audit(
                db,
                SystemPrincipal("test"),
                "document.view" if i % 2 else "review.field_edit",
                obj_type="document",
                obj_id=f"doc{i}",
                document_id=f"{i:032x}",
                form_code="simple",
                # What a sealed edit carries: ciphertext under the document's key (opaque here).
                detail={"n": i, "名": "閲覧", "sealed": f"v1.{i:08d}.ciphertext"},
            )
            db.commit()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def log(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    tmp = tmp_path_factory.mktemp(request.param)
    admin: Engine | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'audit.sqlite3'}"
    else:
        name = f"ocrsvc_audit_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade_database(url)
    engine = make_engine(url)
    settings = Settings(environment="test", data_dir=tmp / "data", database_url=url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    _fill(factory, EVENTS_BEFORE_CHECKPOINT)
    detail = run_checkpoint(factory, settings=settings, principal=SYSTEM)
    _fill(factory, EVENTS_AFTER_CHECKPOINT, start=100)
    try:
        yield Log(
            engine, settings, url, int(detail["seq"]), EVENTS_BEFORE_CHECKPOINT + 1 + EVENTS_AFTER_CHECKPOINT
        )
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture()
def conn(log: Log) -> Iterator[Connection]:
    connection = log.engine.connect()
    outer = connection.begin()
    try:
        yield connection
    finally:
        outer.rollback()
        connection.close()


def _verify(conn: Connection, log: Log) -> int | None:
    with Session(bind=conn, join_transaction_mode="create_savepoint") as db:
        return verify_audit_log(db, settings=log.settings).first_bad_seq


def _event(conn: Connection, seq: int) -> dict[str, Any]:
    return dict(conn.execute(select(EVENTS).where(AuditEvent.seq == seq)).mappings().one())


def test_untouched_log_verifies(conn: Connection, log: Log) -> None:
    """GIVEN events and a signed checkpoint WHEN nothing was touched THEN verify is clean."""
    assert _verify(conn, log) is None
    with Session(bind=conn, join_transaction_mode="create_savepoint") as db:
        report = verify_audit_log(db, settings=log.settings)
    assert report.events == log.last_seq and report.checkpoints == 1


CHANGES: dict[str, Any] = {
    "created_at": "shift",
    "actor": "someone-else",
    "action": "document.list",
    "object_type": "form",
    "object_id": "other",
    "document_id": "f" * 32,
    "form_code": "other_form",
    "ip": "203.0.113.9",
    "detail": {"n": 999},
    "prev_hash": "b" * 64,
    "hash": "c" * 64,
}


@pytest.mark.parametrize("column", [*CHANGES, "seq", "org_id", "user_id"])
def test_changing_any_column_is_found_at_that_event(conn: Connection, log: Log, column: str) -> None:
    """GIVEN a verified log WHEN one column of event 7 is changed in the database THEN verify names seq 7."""
    row = _event(conn, 7)
    if column == "created_at":
        value: Any = row["created_at"] + timedelta(seconds=1)
    elif column == "seq":
        value = 10_000
    elif column in ("org_id", "user_id"):
        # Real rows must exist for the foreign keys; the event has neither (a system event).
        org = conn.execute(
            text(
                "INSERT INTO organisations (name, kind, created_at) "
                "VALUES ('x', 'department', CURRENT_TIMESTAMP) RETURNING id"
            )
        ).scalar_one()
        value = (
            org
            if column == "org_id"
            else conn.execute(
                text(
                    "INSERT INTO users (org_id, username, display_name, password_hash, role, is_active, "
                    "password_changed_at, created_at) VALUES (:o, 'u', '', 'x', 'reviewer', true, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"o": org},
            ).scalar_one()
        )
    else:
        value = CHANGES[column]
    conn.execute(update(EVENTS).where(AuditEvent.seq == 7).values({column: value}))
    assert _verify(conn, log) == 7


@pytest.mark.parametrize("position", ["first", "checkpoint", "last"])
@pytest.mark.parametrize("column", ["action", "detail", "created_at"])
def test_changes_are_found_at_the_ends_and_at_the_checkpoint(
    conn: Connection, log: Log, position: str, column: str
) -> None:
    """GIVEN the first event, the checkpoint event or the last event WHEN a column is changed THEN its seq."""
    seq = {"first": 1, "checkpoint": log.checkpoint_seq + 1, "last": log.last_seq}[position]
    row = _event(conn, seq)
    value = {"action": "auth.login", "detail": {"x": 1}, "created_at": row["created_at"] + timedelta(hours=1)}
    conn.execute(update(EVENTS).where(AuditEvent.seq == seq).values({column: value[column]}))
    assert _verify(conn, log) == seq


def test_changed_and_rehashed_event_is_found(conn: Connection, log: Log) -> None:
    """GIVEN an attacker who rewrites event 7 and recomputes its hash THEN the broken link names seq 7."""
    row = _event(conn, 7)
    values = {k: row[k] for k in values_of(AuditEvent(**{k: row[k] for k in row if k != "id"}))}
    values["action"] = "document.list"
    conn.execute(
        update(EVENTS).where(AuditEvent.seq == 7).values(action="document.list", hash=event_hash(values))
    )
    assert _verify(conn, log) == 7


def test_deleted_event_is_found(conn: Connection, log: Log) -> None:
    conn.execute(delete(EVENTS).where(AuditEvent.seq == 7))
    assert _verify(conn, log) == 7


def test_inserted_event_is_found(conn: Connection, log: Log) -> None:
    """GIVEN events 7… moved up by one and a forged, correctly hashed event put at 7 THEN seq 7 is named."""
    table = EVENTS
    conn.execute(update(table).where(AuditEvent.seq >= 7).values(seq=-(AuditEvent.seq + 1)))
    conn.execute(update(table).where(AuditEvent.seq < 0).values(seq=-AuditEvent.seq))
    six = _event(conn, 6)
    forged = {k: v for k, v in six.items() if k not in ("id", "hash")}
    forged.update(seq=7, prev_hash=six["hash"], action="document.list", object_id="forged")
    forged["hash"] = event_hash(forged)
    conn.execute(insert(table).values(forged))
    assert _verify(conn, log) == 7


def test_swapped_events_are_found(conn: Connection, log: Log) -> None:
    table = EVENTS
    conn.execute(update(table).where(AuditEvent.seq == 7).values(seq=-1))
    conn.execute(update(table).where(AuditEvent.seq == 12).values(seq=7))
    conn.execute(update(table).where(AuditEvent.seq == -1).values(seq=12))
    assert _verify(conn, log) == 7


def test_truncated_tail_is_found_through_the_signed_checkpoint(conn: Connection, log: Log) -> None:
    """GIVEN a checkpoint signed event N WHEN events from 15 on (the checkpoint event too) are deleted
    and the head row is set to match THEN verify names seq 15 (the checkpoint file still signs N)."""
    assert log.checkpoint_seq == EVENTS_BEFORE_CHECKPOINT
    conn.execute(delete(EVENTS).where(AuditEvent.seq >= 15))
    fourteen = _event(conn, 14)
    conn.execute(update(HEAD).values(seq=14, hash=fourteen["hash"]))
    assert _verify(conn, log) == 15


def test_truncated_tail_after_the_last_checkpoint_is_found_through_the_head(
    conn: Connection, log: Log
) -> None:
    conn.execute(delete(EVENTS).where(AuditEvent.seq > log.last_seq - 2))
    assert _verify(conn, log) == log.last_seq - 1


def test_verify_command_exits_nonzero_and_names_the_first_bad_event(
    log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a committed change to event 3 WHEN `ocr-service audit verify` runs THEN exit 1 naming seq 3;
    after the change is undone it exits 0."""
    monkeypatch.setenv("OCR_DATABASE_URL", log.url)
    monkeypatch.setenv("OCR_DATA_DIR", str(log.settings.data_dir))
    from ocr_service.config import get_settings

    get_settings.cache_clear()
    with log.engine.begin() as c:
        original = _event(c, 3)["action"]
        c.execute(update(EVENTS).where(AuditEvent.seq == 3).values(action="auth.login"))
    try:
        result = CliRunner().invoke(cli_app, ["audit", "verify", "--json"])
        assert result.exit_code == 1, result.output
        assert '"first_bad_seq": 3' in result.output
    finally:
        with log.engine.begin() as c:
            c.execute(update(EVENTS).where(AuditEvent.seq == 3).values(action=original))
        get_settings.cache_clear()
    # Verify runs appended verify events; the log (with them) verifies again.
    monkeypatch.setenv("OCR_DATABASE_URL", log.url)
    result = CliRunner().invoke(cli_app, ["audit", "verify"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    with log.engine.connect() as c:
        actions = [
            r[0] for r in c.execute(select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(2))
        ]
    assert actions == ["audit.verify", "audit.verify_failed"]
    log.last_seq += 2


def test_eight_concurrent_writers_append_1000_events_that_verify(log: Log) -> None:
    """GIVEN 8 threads, each with its own session, appending 125 events (one commit each)
    THEN 1,000 new events have consecutive sequence numbers and the whole log verifies."""
    factory = sessionmaker(bind=log.engine, expire_on_commit=False)
    with log.engine.connect() as c:
        before = c.execute(select(AuditChainHead.seq)).scalar_one()
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            _fill(factory, 125, start=1000 * (k + 1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(log.engine) as db:
        seqs = list(
            db.scalars(select(AuditEvent.seq).where(AuditEvent.seq > before).order_by(AuditEvent.seq))
        )
        assert seqs == list(range(before + 1, before + 1001))
        report = verify_audit_log(db, settings=log.settings)
    assert report.ok, report.problems
    log.last_seq = before + 1000


def test_checkpoint_signature_is_checked(conn: Connection, log: Log) -> None:
    """GIVEN the checkpoint event's signed hash is replaced THEN the forged checkpoint is named."""
    row = _event(conn, log.checkpoint_seq + 1)
    forged = dict(row["detail"], hash="d" * 64)
    values = {k: row[k] for k in row if k not in ("id",)}
    values["detail"] = forged
    conn.execute(
        update(EVENTS)
        .where(AuditEvent.seq == log.checkpoint_seq + 1)
        .values(detail=forged, hash=event_hash(values))
    )
    assert _verify(conn, log) == log.checkpoint_seq + 1


def test_a_deleted_head_row_is_rebuilt_and_appends_go_on(conn: Connection, log: Log) -> None:
    """GIVEN the chain head row deleted WHEN the next action is audited THEN the head is rebuilt from the
    last event (audited actions do not start failing) and the chain still verifies."""
    conn.execute(delete(HEAD))
    last = conn.execute(select(func.max(AuditEvent.seq))).scalar_one()
    with Session(bind=conn, join_transaction_mode="create_savepoint") as db:
        seq = audit(db, SYSTEM, "document.view", obj_id="after").seq
        db.commit()
    assert seq == last + 1
    assert _verify(conn, log) is None
