"""Retention: crypto-erase of due documents, tombstones, signed certificates, 410 answers."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent
from ocr_service.auth.models import LoginSession
from ocr_service.config import Settings
from ocr_service.db.base import new_id, utcnow
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.documents.sealing import open_audit_values
from ocr_service.export.models import ExportRecord
from ocr_service.export.service import export_key_owner
from ocr_service.forms.models import FormDefinition
from ocr_service.keys.service import KeyErasedError, Keys, create_document_key, document_key
from ocr_service.orgs.models import Organisation
from ocr_service.retention.certificate import canonical
from ocr_service.retention.erase import erase_document
from ocr_service.retention.models import DeletionCertificate, DocumentTombstone
from ocr_service.retention.pdf import certificate_pdf
from ocr_service.retention.service import retention_job, run_retention, verify_certificate
from ocr_service.review.queue import build_queue
from ocr_service.storage.blobs import BlobStore
from tests.factories import login, make_form, make_org, make_user
from tests.helpers import make_recognized_document, png


def _recognized(
    db: Session, store: BlobStore, *, age_days: float, org_name: str = "健康推進課"
) -> tuple[Document, Any]:
    org = make_org(db, org_name)
    user = make_user(db, org, role="admin")
    form = make_form(db, org, store)
    document = make_recognized_document(
        db, user=user, form=form, store=store, values={"name": "山田太郎", "agree": True}
    )
    document.created_at = utcnow() - timedelta(days=age_days)
    db.commit()
    return document, user


def _blob_keys(db: Session, document: Document) -> list[str]:
    keys = [document.blob_key]
    keys += [k for k in db.scalars(select(Page.image_blob_key).where(Page.document_id == document.id)) if k]
    keys += [
        k
        for k in db.scalars(select(FieldResult.crop_blob_key).where(FieldResult.document_id == document.id))
        if k
    ]
    return keys


def test_due_document_is_crypto_erased_with_a_verifiable_certificate(
    db: Session, store: BlobStore, settings: Settings, keys: Keys
) -> None:
    """GIVEN a recognised document uploaded 6 days ago and a fresh one WHEN the job runs
    THEN the old one's key, blobs and text rows are gone, a tombstone and a signed certificate
    remain, `verify` passes; the fresh one is untouched."""
    old, _user = _recognized(db, store, age_days=6)
    fresh = make_recognized_document(
        db, user=_user, form=_form(db, old), store=store, values={"name": "佐藤"}
    )
    blob_keys = _blob_keys(db, old)
    assert len(blob_keys) >= 3 and keys.exists(old.id)
    set_scope(db, SYSTEM_SCOPE)
    result = run_retention(db, settings=settings, store=store)
    assert result.erased == 1
    (certificate,) = result.certificates
    assert not keys.exists(old.id)
    assert not any(store.exists(k) for k in blob_keys)
    assert db.get(Document, old.id) is None
    for model in (Page, FieldResult):
        assert db.scalar(select(func.count()).select_from(model).where(model.document_id == old.id)) == 0
    tombstone = db.get_one(DocumentTombstone, old.id)
    assert (
        tombstone.certificate_id == certificate.id
        and tombstone.page_count == 1
        and tombstone.form_code == "simple"
    )
    assert keys.exists(fresh.id) and db.get(Document, fresh.id) is not None
    signed = json.loads(certificate.document_json)
    body = signed["certificate"]
    (entry,) = body["documents"]
    assert entry["document_id"] == old.id and entry["sha256"] == old.sha256
    assert entry["verification"] == {
        "key_absent": True,
        "blobs_checked": len(blob_keys),
        "blobs_absent": True,
        "text_rows_remaining": 0,
        "document_row_absent": True,
    }
    assert "山田" not in certificate.document_json and "scan.pdf" not in certificate.document_json
    assert verify_certificate(db, settings=settings, document=signed) == []
    assert certificate_pdf(certificate.document_json).startswith(b"%PDF")
    issued = db.scalar(select(AuditEvent).where(AuditEvent.action == "retention.certificate_issued"))
    assert issued is not None and issued.object_id == certificate.id


def _form(db: Session, document: Document) -> FormDefinition:
    return db.get_one(FormDefinition, document.form_id)


def _signed_certificate(
    db: Session, store: BlobStore, settings: Settings, *, documents: int
) -> dict[str, Any]:
    first, user = _recognized(db, store, age_days=7)
    for _ in range(documents - 1):
        extra = make_recognized_document(
            db, user=user, form=_form(db, first), store=store, values={"name": "x"}
        )
        extra.created_at = utcnow() - timedelta(days=7)
    db.commit()
    set_scope(db, SYSTEM_SCOPE)
    (certificate,) = run_retention(db, settings=settings, store=store).certificates
    return dict(json.loads(certificate.document_json))


def test_verify_fails_on_a_changed_byte_a_removed_document_or_another_key(
    db: Session, store: BlobStore, settings: Settings
) -> None:
    """GIVEN an issued certificate for two documents WHEN a byte changes, a document is dropped
    (even re-signed with another key), or another key signs it THEN verify reports a mismatch."""
    signed = _signed_certificate(db, store, settings, documents=2)
    assert verify_certificate(db, settings=settings, document=signed) == []

    changed = json.loads(json.dumps(signed))
    changed["certificate"]["documents"][0]["sha256"] = (
        "f" + changed["certificate"]["documents"][0]["sha256"][1:]
    )
    assert any("signature" in p for p in verify_certificate(db, settings=settings, document=changed))

    removed = json.loads(json.dumps(signed))
    removed["certificate"]["documents"].pop()
    problems = verify_certificate(db, settings=settings, document=removed)
    assert any("not listed" in p for p in problems) and any("signature" in p for p in problems)

    other = Ed25519PrivateKey.generate()
    forged = json.loads(json.dumps(removed))
    forged["signature"] = base64.b64encode(other.sign(canonical(forged["certificate"]))).decode()
    forged["public_key_pem"] = (
        other.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    problems = verify_certificate(db, settings=settings, document=forged)
    assert any("another key" in p for p in problems) and any("signature" in p for p in problems)
    junks: list[dict[str, Any]] = [{}, {"certificate": []}, {"certificate": {"format": "x"}}]
    for junk in junks:
        assert verify_certificate(db, settings=settings, document=junk) != []


def test_certificate_signs_the_audit_chain_head_at_its_issue_event(
    db: Session, store: BlobStore, settings: Settings
) -> None:
    """GIVEN an issued certificate WHEN verified THEN its signed audit head is the issue event's seq and
    hash; a head with a forged signature, or an issue event changed in the log afterwards, is reported."""
    signed = _signed_certificate(db, store, settings, documents=1)
    head = signed["certificate"]["audit_head"]
    set_scope(db, SYSTEM_SCOPE)
    event = db.scalar(select(AuditEvent).where(AuditEvent.seq == head["seq"]))
    assert event is not None and event.action == "retention.certificate_issued"
    assert (event.hash, event.object_id) == (head["hash"], signed["certificate"]["certificate_id"])
    assert verify_certificate(db, settings=settings, document=signed) == []

    forged = json.loads(json.dumps(signed))
    forged["certificate"]["audit_head"]["hash"] = "0" * 64
    assert any("audit chain head" in p for p in verify_certificate(db, settings=settings, document=forged))

    event.hash = "f" * 64  # the log rewritten after the certificate was handed out
    db.flush()
    problems = verify_certificate(db, settings=settings, document=signed)
    assert any(f"audit event {head['seq']}" in p for p in problems), problems


def test_erased_document_answers_410_and_a_reviewers_save_too(
    client: TestClient, db: Session, store: BlobStore, settings: Settings
) -> None:
    """GIVEN a reviewer with the document open (in review) WHEN its time is up and the job runs
    THEN the document URL, its screen, image and the reviewer's next save answer 410 with the
    certificate id, not 500."""
    document, user = _recognized(db, store, age_days=4.5)
    login(client, user)
    field = client.get(f"/api/v1/documents/{document.id}").json()["fields"][0]
    screen = client.get(f"/review/documents/{document.id}")
    assert screen.status_code == 200 and "まもなく削除" in screen.text  # 4.5 of 5 days: marked
    edit = client.patch(
        f"/api/v1/review/documents/{document.id}/fields/{field['id']}",
        json={"value": "山田一郎", "version": field["version"]},
    )
    assert edit.status_code == 200
    field = edit.json()
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "review.field_edit"))
    assert event is not None
    assert (
        open_audit_values(db, document_id=document.id, action=event.action, sealed=event.detail["sealed"])[
            "new"
        ]
        == "山田一郎"
    )
    set_scope(db, SYSTEM_SCOPE)
    assert run_retention(db, settings=settings, store=store).erased == 0
    (certificate,) = run_retention(
        db, settings=settings, store=store, now=utcnow() + timedelta(days=1)
    ).certificates
    message = f"保存期間が過ぎたため削除されました（削除証明書 {certificate.id}）"
    save = client.patch(
        f"/api/v1/review/documents/{document.id}/fields/{field['id']}",
        json={"value": "山田", "version": field["version"]},
    )
    assert save.status_code == 410 and save.json()["detail"]["message"] == message
    for url in (f"/api/v1/documents/{document.id}", f"/api/v1/documents/{document.id}/pages/1/image"):
        response = client.get(url)
        assert response.status_code == 410, url
        assert response.json()["detail"] == {"code": "erased", "message": message}
    screen = client.get(f"/review/documents/{document.id}")
    assert screen.status_code == 410 and message in screen.text
    assert client.post(f"/api/v1/review/documents/{document.id}/confirm").status_code == 410
    # The audit event and its hash-chain fields stay; its personal values died with the key.
    db.expire_all()
    kept = db.get_one(AuditEvent, event.id)
    with pytest.raises(KeyErasedError):
        open_audit_values(db, document_id=document.id, action=kept.action, sealed=kept.detail["sealed"])
    # ... and the audit chain over the (now unreadable) ciphertext still verifies.
    from ocr_service.audit.checkpoints import verify_audit_log

    report = verify_audit_log(db, settings=settings)
    assert report.ok and report.events > 0, report.problems


def test_staff_delete_early_with_a_reason_and_admins_download_certificates(
    client: TestClient, db: Session, store: BlobStore, settings: Settings
) -> None:
    """GIVEN a fresh document WHEN staff delete it with a reason THEN it is erased at once with a
    manual certificate; admins list and download it (JSON, PDF), each download audited."""
    document, admin = _recognized(db, store, age_days=0)
    login(client, admin)
    assert client.post(f"/api/v1/documents/{document.id}/erase", json={"reason": ""}).status_code == 422
    erased = client.post(f"/api/v1/documents/{document.id}/erase", json={"reason": "誤アップロード"})
    assert erased.status_code == 200, erased.text
    certificate_id = erased.json()["certificate_id"]
    gone = client.get(f"/api/v1/documents/{document.id}")
    assert gone.status_code == 410 and certificate_id in gone.json()["detail"]["message"]
    listed = client.get("/api/v1/retention/certificates").json()
    assert [(c["id"], c["trigger"], c["document_count"]) for c in listed] == [(certificate_id, "manual", 1)]
    as_json = client.get(f"/api/v1/retention/certificates/{certificate_id}.json")
    assert as_json.status_code == 200
    signed = as_json.json()
    assert signed["certificate"]["trigger"]["by"] == f"user:{admin.id}"
    assert verify_certificate(db, settings=settings, document=signed) == []
    pdf = client.get(f"/api/v1/retention/certificates/{certificate_id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "削除証明書" in client.get("/admin/retention").text
    actions = list(
        db.scalars(select(AuditEvent.action).where(AuditEvent.object_id.in_([document.id, certificate_id])))
    )
    assert {"document.erase", "retention.certificate_issued", "retention.certificate_download"} <= set(
        actions
    )
    assert actions.count("retention.certificate_download") == 2


def test_certificates_are_for_admins_and_their_own_organisation(
    client: TestClient, db: Session, store: BlobStore, settings: Settings
) -> None:
    """GIVEN org A's certificate WHEN a reviewer or org B's admin asks THEN 403 / 404."""
    signed = _signed_certificate(db, store, settings, documents=1)
    certificate_id = signed["certificate"]["certificate_id"]
    org_b = make_org(db, "B課")
    admin_b, reviewer_b = make_user(db, org_b, role="admin"), make_user(db, org_b, role="reviewer")
    db.commit()
    login(client, reviewer_b)
    assert client.get("/api/v1/retention/certificates").status_code == 403
    login(client, admin_b)
    assert client.get("/api/v1/retention/certificates").json() == []
    assert client.get(f"/api/v1/retention/certificates/{certificate_id}.json").status_code == 404
    document_id = signed["certificate"]["documents"][0]["document_id"]
    assert (
        client.get(f"/api/v1/documents/{document_id}").status_code == 404
    )  # a foreign tombstone is not shown


def test_organisation_override_and_queue_countdown_match_the_job(
    db: Session, store: BlobStore, settings: Settings
) -> None:
    """GIVEN an organisation keeping documents 2 days WHEN a 1.5-day-old document is listed
    THEN the queue says it is erased within a day, and the job erases it half a day later."""
    document, _user = _recognized(db, store, age_days=1.5)
    org = db.get_one(Organisation, document.org_id)
    org.retention_days = 2
    db.commit()
    set_scope(db, SYSTEM_SCOPE)
    (row,) = build_queue(db, retention_days=2).rows
    assert row.days_left == 1 and row.erase_soon
    assert run_retention(db, settings=settings, store=store, now=utcnow() + timedelta(hours=11)).erased == 0
    assert run_retention(db, settings=settings, store=store, now=utcnow() + timedelta(hours=13)).erased == 1


def test_housekeeping_removes_orphans_and_expired_sessions(
    db: Session, store: BlobStore, settings: Settings, keys: Keys
) -> None:
    """GIVEN a blob whose key is erased, an old unreferenced blob and key, a stale temp file
    and an expired login session WHEN the job runs THEN all are gone; live data stays."""
    document, user = _recognized(db, store, age_days=0)
    set_scope(db, SYSTEM_SCOPE)
    orphan_dek = create_document_key(db, document_id="e" * 32)
    orphan_blob = store.put(png(), dek=orphan_dek)
    keys.destroy("e" * 32)
    stale_dek = create_document_key(db, document_id="d" * 32)
    stale_blob = store.put(png(), dek=stale_dek)
    temp = settings.resolved_storage_dir / "ab" / ".tmp-crashed"
    temp.parent.mkdir(parents=True, exist_ok=True)
    temp.write_bytes(b"partial")
    db.add(LoginSession(id_sha256="0" * 64, user_id=user.id, expires_at=utcnow() - timedelta(minutes=1)))
    db.commit()
    fresh = retention_job(db, settings=settings, store=store, trigger="cli")
    assert not store.exists(orphan_blob) and store.exists(stale_blob) and temp.exists()
    assert fresh.housekeeping.expired_sessions == 1
    old = settings.model_copy(update={"orphan_grace_s": 600})
    past = time.time() - 3600
    for path in (
        temp,
        keys.store.root / "dd" / ("d" * 32 + ".key"),
        settings.resolved_storage_dir / stale_blob[:2] / stale_blob,
    ):
        os.utime(path, (past, past))
    result = retention_job(db, settings=old, store=store, trigger="cli")
    assert not store.exists(stale_blob) and not keys.exists("d" * 32) and not temp.exists()
    assert result.housekeeping.orphan_keys == 1
    assert store.exists(document.blob_key) and keys.exists(document.id)
    assert db.scalar(select(func.count()).select_from(DeletionCertificate)) == 0


def test_beat_runs_the_retention_job_at_the_configured_interval(settings: Settings) -> None:
    """GIVEN OCR_RETENTION_INTERVAL_S WHEN the Celery app is built THEN the one beat schedule lists the job
    (beside the stale-document sweep), sent to the light maintenance queue, not the OCR queue."""
    from workers.celery_app import RETENTION_TASK, SWEEP_TASK, make_celery

    app = make_celery(settings.model_copy(update={"retention_interval_s": 900}))
    schedule = app.conf.beat_schedule
    assert schedule["retention"] == {
        "task": RETENTION_TASK,
        "schedule": 900.0,
        "options": {"queue": settings.maintenance_queue_name},
    }
    assert schedule["sweep-stale-documents"]["task"] == SWEEP_TASK
    assert app.conf.task_routes[RETENTION_TASK] == {"queue": settings.maintenance_queue_name}
    import workers.tasks

    assert workers.tasks.retention.name == RETENTION_TASK


def test_task_messages_carry_ids_only(settings: Settings) -> None:
    """GIVEN the Celery app WHEN an ingest task is sent to Redis THEN its payload holds the id and nothing else."""
    import redis as redis_lib

    from workers.celery_app import INGEST_TASK, make_celery

    queue = f"ocr-ids-{utcnow().timestamp()}"
    app = make_celery(settings.model_copy(update={"queue_name": queue}))
    app.send_task(INGEST_TASK, args=["a" * 32], queue=queue)
    client = redis_lib.Redis.from_url(settings.resolved_broker_url)
    try:
        (raw,) = client.lrange(queue, 0, -1)
        message = json.loads(raw)
        args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        assert args == ["a" * 32] and kwargs == {}
    finally:
        client.delete(queue)


def test_an_interrupted_erase_is_finished_and_certified_by_the_next_run(
    db: Session, store: BlobStore, settings: Settings, keys: Keys
) -> None:
    """GIVEN one erase that crashed after destroying the key (row and blobs left) and one that
    crashed after committing its tombstone but before its certificate WHEN the next run comes
    (neither document is due by age) THEN the first is erased and the second certified, both verified."""
    half, user = _recognized(db, store, age_days=0)
    unsigned = make_recognized_document(
        db, user=user, form=_form(db, half), store=store, values={"name": "x"}
    )
    db.commit()
    set_scope(db, SYSTEM_SCOPE)
    keys.destroy(half.id)
    erase_document(
        db, document=unsigned, store=store, trigger="retention", certificate_id="c" * 32, now=utcnow()
    )
    db.commit()
    result = run_retention(db, settings=settings, store=store)
    assert sorted(c.document_count for c in result.certificates) == [1, 1]
    assert {c.id for c in result.certificates} >= {"c" * 32}
    for certificate in result.certificates:
        signed = json.loads(certificate.document_json)
        assert verify_certificate(db, settings=settings, document=signed) == []
    assert db.get(Document, half.id) is None and db.get(DocumentTombstone, half.id) is not None


def _kept_export(db: Session, store: BlobStore, *, user: Any, age_days: float) -> ExportRecord:
    export_id = new_id()
    dek = create_document_key(db, document_id=export_key_owner(export_id))
    record = ExportRecord(
        id=export_id,
        org_id=user.org_id,
        form_code="simple",
        filename="simple.csv",
        media_type="text/csv",
        blob_key=store.put("氏名\r\n山田太郎\r\n".encode(), dek=dek),
        rows=1,
        created_by=user.id,
        detail={},
    )
    db.add(record)
    db.flush()
    record.created_at = utcnow() - timedelta(days=age_days)
    db.commit()
    return record


def test_kept_exports_expire_with_the_retention_period(
    db: Session, store: BlobStore, settings: Settings, keys: Keys
) -> None:
    """GIVEN a kept export older than the retention period and a fresh one (files and keys older than the
    orphan grace) WHEN the job runs THEN the old export's key and file are destroyed, its record stays
    without a file and the expiry is audited; the fresh export stays readable (not taken for an orphan)."""
    document, user = _recognized(db, store, age_days=0)
    set_scope(db, SYSTEM_SCOPE)
    old = _kept_export(db, store, user=user, age_days=settings.retention_days + 1)
    fresh = _kept_export(db, store, user=user, age_days=0)
    old_blob, fresh_blob = old.blob_key, fresh.blob_key
    assert old_blob is not None and fresh_blob is not None
    past = time.time() - 3600
    for record in (old, fresh):
        owner = export_key_owner(record.id)
        assert record.blob_key is not None
        for path in (
            keys.store.root / owner[:2] / f"{owner}.key",
            settings.resolved_storage_dir / record.blob_key[:2] / record.blob_key,
        ):
            assert path.is_file(), path
            os.utime(path, (past, past))
    result = retention_job(
        db, settings=settings.model_copy(update={"orphan_grace_s": 600}), store=store, trigger="cli"
    )
    assert result.expired_exports == 1
    db.expire_all()
    assert db.get_one(ExportRecord, old.id).blob_key is None
    assert not keys.exists(export_key_owner(old.id)) and not store.exists(old_blob)
    assert db.get_one(ExportRecord, fresh.id).blob_key == fresh_blob
    assert keys.exists(export_key_owner(fresh.id)) and store.exists(fresh_blob)
    assert store.get(fresh_blob, dek=document_key(db, document_id=export_key_owner(fresh.id))).startswith(
        "氏名".encode()
    )
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "export.expire")).all()
    assert [(e.object_id, e.actor) for e in events] == [(old.id, "system")]
    assert store.exists(document.blob_key)
