"""Log review flags, organisation isolation of the log, the tamper banner, and the auditor role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.audit import service as audit_service
from ocr_service.audit.models import AuditEvent
from ocr_service.audit.operations import run_verify
from ocr_service.audit.review import compute_flags, is_off_hours
from ocr_service.audit.service import SYSTEM, audit
from ocr_service.auth.service import Principal
from ocr_service.config import Settings
from ocr_service.storage.blobs import BlobStore
from tests.factories import login, make_form, make_org, make_user, simple_layout
from tests.helpers import make_recognized_document

JST_10AM_MONDAY = datetime(2026, 11, 9, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("utc", "off"),
    [
        (datetime(2026, 11, 9, 1, 0, tzinfo=UTC), False),  # Mon 10:00 JST
        (datetime(2026, 11, 9, 11, 0, tzinfo=UTC), True),  # Mon 20:00 JST
        (datetime(2026, 11, 8, 23, 0, tzinfo=UTC), True),  # Mon 08:00 JST, before 08:30
        (datetime(2026, 11, 7, 1, 0, tzinfo=UTC), True),  # Sat 10:00 JST
        (datetime(2026, 11, 3, 1, 0, tzinfo=UTC), True),  # Tue 10:00 JST, 文化の日
        (datetime(2026, 11, 24, 1, 0, tzinfo=UTC), False),  # Tue 10:00 JST, an ordinary day
    ],
)
def test_off_hours_follow_configured_hours_weekends_and_japanese_holidays(utc: datetime, off: bool) -> None:
    assert is_off_hours(utc, Settings(environment="test")) is off


def _principal(user: object) -> Principal:
    return Principal(user_id=user.id, org_id=user.org_id, role=user.role, username=user.username)  # type: ignore[attr-defined]


def test_flags_bulk_views_unusual_forms_failed_logins_networks_and_exports(
    db: Session, store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a reviewer who handled form 'simple' last month, then (all in office hours) views 3 documents
    in 4 minutes from an outside address, opens a document of form 'other', and exports; a failed login
    THEN each kind of flag appears once, naming exactly the events behind it."""
    org = make_org(db)
    user = make_user(db, org)
    simple, other = make_form(db, org, store), make_form(db, org, store, simple_layout("other"))
    docs = [
        make_recognized_document(db, user=user, form=simple, store=store, values={"name": "x"})
        for _ in range(3)
    ]
    odd = make_recognized_document(db, user=user, form=other, store=store, values={"name": "y"})
    who = _principal(user)
    settings = Settings(environment="test", audit_bulk_view_documents=3, audit_bulk_view_minutes=10)
    times = iter(JST_10AM_MONDAY + timedelta(minutes=m) for m in range(100))
    baseline_time = JST_10AM_MONDAY - timedelta(days=20)
    monkeypatch.setattr(audit_service, "clock", lambda: baseline_time)
    audit(db, who, "document.view", document_id=docs[0].id, form_code="simple")
    monkeypatch.setattr(audit_service, "clock", lambda: next(times))
    views = [
        audit(db, who, "document.view", document_id=d.id, form_code="simple", ip="203.0.113.7") for d in docs
    ]
    unusual = audit(db, who, "document.view", document_id=odd.id, form_code="other")
    export = audit(db, who, "export.csv", form_code="simple", detail={"rows": 3})
    failed = audit(db, None, "auth.login_failed", org_id=org.id, detail={"username": user.username})
    db.commit()
    events = [*views, unusual, export, failed]

    flags = {f.kind: f for f in compute_flags(db, events, settings)}

    assert set(flags) == {"bulk_view", "unusual_form", "failed_login", "unexpected_network", "export"}
    assert flags["bulk_view"].seqs == [e.seq for e in views]
    assert flags["unusual_form"].seqs == [unusual.seq] and "other" in flags["unusual_form"].summary
    assert (
        flags["unexpected_network"].seqs == [e.seq for e in views]
        and "203.0.113.7" in flags["unexpected_network"].summary
    )
    assert flags["export"].seqs == [export.seq]
    assert flags["failed_login"].seqs == [failed.seq] and flags["failed_login"].actor == user.username


def test_auditor_reads_the_log_but_no_documents(client: TestClient, db: Session, store: BlobStore) -> None:
    org = make_org(db)
    auditor = make_user(db, org, role="auditor")
    document = make_recognized_document(
        db, user=auditor, form=make_form(db, org, store), store=store, values={"name": "x"}
    )
    db.commit()
    login(client, auditor)
    assert client.get("/admin/audit").status_code == 200
    assert client.get(f"/api/v1/documents/{document.id}").status_code == 403
    assert client.get("/review").status_code == 403


def test_failed_verification_shows_a_banner_until_a_clean_one(
    client: TestClient, db: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    """GIVEN a changed event WHEN the (daily) verification runs THEN an audit.verify_failed alert is logged
    and the admin screens show the tamper banner with the first bad sequence number."""
    org = make_org(db)
    admin = make_user(db, org, role="admin")
    first = audit(db, SYSTEM, "document.view", org_id=org.id)
    audit(db, SYSTEM, "document.view", org_id=org.id)
    db.commit()
    db.execute(update(AuditEvent).where(AuditEvent.seq == first.seq).values(action="document.list"))
    db.commit()
    report = run_verify(session_factory, settings=settings, principal=SYSTEM)
    assert not report.ok
    login(client, admin)
    page = client.get("/admin/audit")
    assert 'id="tamper-banner"' in page.text and f"最初の不正な連番 {report.first_bad_seq}" in page.text
    assert 'id="tamper-banner"' in client.get("/review").text  # every admin screen warns, not only ログ監査


def test_record_audit_event_compatibility_call_joins_the_chain(db: Session) -> None:
    """GIVEN code from before audit() WHEN it calls record_audit_event THEN the event names the user and
    sits in the chain like any other."""
    from ocr_service.audit.service import record_audit_event

    org = make_org(db)
    user = make_user(db, org, username="legacy-caller")
    first = audit(db, SYSTEM, "document.view", org_id=org.id)
    event = record_audit_event(db, action="legacy.action", org_id=org.id, user_id=user.id, object_id="x")
    assert (event.actor, event.user_id, event.org_id, event.seq) == (
        "legacy-caller",
        user.id,
        org.id,
        first.seq + 1,
    )
    assert event.prev_hash == first.hash


def test_log_csv_cells_cannot_run_as_spreadsheet_formulas(client: TestClient, db: Session) -> None:
    """GIVEN a failed login whose user name is a formula WHEN an admin downloads the log CSV
    THEN no cell starts like a formula and the failure is flagged; a cell that would start so is quoted."""
    import csv
    import io

    from ocr_service.audit.review import spreadsheet_safe

    admin = make_user(db, make_org(db), role="admin")
    db.commit()
    hostile = '=HYPERLINK("http://evil.invalid","x")'
    assert (
        client.post("/api/v1/auth/login", json={"username": hostile, "password": "nope"}).status_code == 401
    )
    login(client, admin)
    text = client.get("/admin/audit.csv?action=auth.login_failed").content.decode("cp932")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert any("HYPERLINK" in cell for cell in cells) and "ログイン失敗・ロック" in text
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert spreadsheet_safe(hostile) == "'" + hostile and spreadsheet_safe("2026-11") == "2026-11"


@pytest.mark.parametrize(
    "bad", [{"audit_expected_networks": ["not-a-network"]}, {"audit_business_hours": "18:00-09:00"}]
)
def test_log_review_settings_refuse_malformed_values(bad: dict[str, object]) -> None:
    """GIVEN a mistyped network or reversed hours THEN the service refuses to start (not a crash later)."""
    with pytest.raises(ValueError, match="OCR_AUDIT_"):
        Settings(environment="test", **bad)  # type: ignore[arg-type]


def test_signed_head_for_deletion_certificates_verifies_and_detects_changes(settings: Settings) -> None:
    """GIVEN a chain position signed with the installation key THEN it verifies; a changed hash or seq does not."""
    from ocr_service.audit.checkpoints import signed_head, verify_checkpoint_detail

    statement = signed_head(settings, seq=42, head_hash="ab" * 32)
    assert verify_checkpoint_detail(settings, statement)
    assert not verify_checkpoint_detail(settings, {**statement, "hash": "cd" * 32})
    assert not verify_checkpoint_detail(settings, {**statement, "seq": 41})
