"""The retention job and manual deletion: erase, verify, certify, audit.

``run_retention`` is what beat runs every OCR_RETENTION_INTERVAL_S and what
``ocr-service retention run [--now]`` runs by hand: every document older than its
organisation's retention period is erased whatever its status, and each organisation
with erased documents gets one signed certificate for the run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ocr_service.audit.checkpoints import signed_head, verify_checkpoint_detail
from ocr_service.audit.models import AuditEvent
from ocr_service.audit.service import record_audit_event
from ocr_service.auth.service import Principal
from ocr_service.config import Settings
from ocr_service.db.base import new_id, utcnow
from ocr_service.documents.models import Document
from ocr_service.documents.service import get_document
from ocr_service.keys.service import keys_of
from ocr_service.orgs.models import Organisation
from ocr_service.retention.certificate import certificate_body, check_signature, signed_document
from ocr_service.retention.erase import (
    AlreadyErasingError,
    ErasedDocument,
    erase_document,
    verify_erased_by_scan,
)
from ocr_service.retention.models import DeletionCertificate, DocumentTombstone
from ocr_service.review.service import ReviewStateError, as_aware
from ocr_service.signing import public_key_pem
from ocr_service.storage.blobs import BlobStore

logger = logging.getLogger(__name__)


class ErasureVerificationError(RuntimeError):
    """The post-erase check found something left; no certificate is issued for a failed erase."""


@dataclass(frozen=True)
class RunResult:
    certificates: list[DeletionCertificate]

    @property
    def erased(self) -> int:
        return sum(c.document_count for c in self.certificates)


def erased_message(exc: Exception) -> str:
    """The Japanese answer (HTTP 410) for a deleted document's URL, naming its certificate."""
    from ocr_service.documents.service import DocumentErasedError

    if isinstance(exc, DocumentErasedError) and exc.certificate_id:
        if exc.trigger == "manual":
            return f"この文書は職員の操作により削除されました（削除証明書 {exc.certificate_id}）"
        return f"保存期間が過ぎたため削除されました（削除証明書 {exc.certificate_id}）"
    return "この文書は削除されました（削除証明書は管理画面で確認できます）"


def retention_days_of(org: Organisation, settings: Settings) -> int:
    return org.retention_days or settings.retention_days


def _issue(
    db: Session,
    *,
    settings: Settings,
    org: Organisation,
    certificate_id: str,
    trigger: str,
    triggered_by: str,
    user_id: int | None,
    erased: list[ErasedDocument],
    now: datetime,
) -> DeletionCertificate:
    failed = [e.tombstone.document_id for e in erased if not e.verification.passed]
    if failed:
        raise ErasureVerificationError(f"erase verification failed for {failed}")
    body = certificate_body(
        certificate_id=certificate_id,
        org_id=org.id,
        org_name=org.name,
        issued_at=now,
        trigger=trigger,
        triggered_by=triggered_by,
        retention_days=retention_days_of(org, settings) if trigger != "manual" else None,
        erased=erased,
    )
    event = record_audit_event(
        db,
        action="retention.certificate_issued",
        org_id=org.id,
        user_id=user_id,
        object_type="deletion_certificate",
        object_id=certificate_id,
        detail={"trigger": trigger, "documents": [e.tombstone.document_id for e in erased]},
    )
    # The certificate signs the audit chain head at its own issue event: the log up to the deletion
    # cannot later be rewritten without contradicting a certificate already handed out.
    body["audit_head"] = signed_head(settings, seq=event.seq, head_hash=event.hash)
    certificate = DeletionCertificate(
        id=certificate_id,
        org_id=org.id,
        issued_at=now,
        trigger=trigger,
        document_count=len(erased),
        document_json=signed_document(settings, body),
    )
    db.add(certificate)
    return certificate


def _certify_orphan_tombstones(
    db: Session, *, settings: Settings, store: BlobStore, org: Organisation, now: datetime
) -> list[DeletionCertificate]:
    """Tombstones whose run crashed before issuing their certificate get it now (checked again)."""
    issued = select(DeletionCertificate.id)
    orphans = list(
        db.scalars(
            select(DocumentTombstone).where(
                DocumentTombstone.org_id == org.id, DocumentTombstone.certificate_id.not_in(issued)
            )
        )
    )
    by_certificate: dict[str, list[DocumentTombstone]] = {}
    for tombstone in orphans:
        by_certificate.setdefault(tombstone.certificate_id, []).append(tombstone)
    certificates = []
    for certificate_id, tombstones in by_certificate.items():
        erased = [
            ErasedDocument(
                tombstone=t, verification=verify_erased_by_scan(db, document_id=t.document_id, store=store)
            )
            for t in tombstones
        ]
        certificates.append(
            _issue(
                db,
                settings=settings,
                org=org,
                certificate_id=certificate_id,
                trigger=tombstones[0].trigger if tombstones[0].trigger == "manual" else "schedule",
                triggered_by="recovery of an interrupted run",
                user_id=None,
                erased=erased,
                now=now,
            )
        )
        db.commit()
    return certificates


def run_retention(
    db: Session,
    *,
    settings: Settings,
    store: BlobStore,
    now: datetime | None = None,
    trigger: str = "schedule",
) -> RunResult:
    """Erase every due document of every organisation (system scope); one certificate per organisation."""
    real_now = utcnow()
    now = now or real_now
    keys = keys_of(db)
    certificates = []
    for org in db.scalars(select(Organisation).order_by(Organisation.id)):
        certificates += _certify_orphan_tombstones(db, settings=settings, store=store, org=org, now=real_now)
        cutoff = now - timedelta(days=retention_days_of(org, settings))
        documents = db.scalars(
            select(Document).where(Document.org_id == org.id).order_by(Document.created_at)
        )
        # Due by age; or already crypto-erased by an erase that crashed before it committed
        # (the key is destroyed first, so such a row can only be finished, never read again).
        due = [d for d in documents if as_aware(d.created_at) <= cutoff or not keys.exists(d.id)]
        if not due:
            continue
        certificate_id = new_id()
        erased = []
        for document in due:
            try:
                erased.append(
                    erase_document(
                        db,
                        document=document,
                        store=store,
                        trigger="retention",
                        certificate_id=certificate_id,
                        now=real_now,
                    )
                )
            except AlreadyErasingError:  # a manual deletion of it is committing right now
                db.rollback()
                continue
            # Each erase is committed as it happens; the certificate follows once all are verified.
            db.commit()
        if not erased:
            continue
        certificates.append(
            _issue(
                db,
                settings=settings,
                org=org,
                certificate_id=certificate_id,
                trigger=trigger,
                triggered_by="beat" if trigger == "schedule" else f"cli --now {now.isoformat()}",
                user_id=None,
                erased=erased,
                now=real_now,
            )
        )
        db.commit()
        logger.info(
            "retention: erased %d documents of org %s (certificate %s)", len(erased), org.id, certificate_id
        )
    return RunResult(certificates=certificates)


def erase_document_now(
    db: Session, *, settings: Settings, principal: Principal, document_id: str, reason: str, store: BlobStore
) -> DeletionCertificate:
    """Manual early deletion (作業終了後の削除 / wrong upload): same erase, same kind of certificate."""
    document = get_document(db, document_id=document_id)
    org = db.get(Organisation, document.org_id)
    assert org is not None
    certificate_id = new_id()
    now = utcnow()
    try:
        erased = erase_document(
            db, document=document, store=store, trigger="manual", certificate_id=certificate_id, now=now
        )
    except AlreadyErasingError:
        db.rollback()
        raise ReviewStateError("この文書は削除処理中です。", code="erasing") from None
    record_audit_event(
        db,
        action="document.erase",
        org_id=principal.org_id,
        user_id=principal.user_id,
        object_type="document",
        object_id=document_id,
        detail={"reason": reason, "certificate": certificate_id},
    )
    certificate = _issue(
        db,
        settings=settings,
        org=org,
        certificate_id=certificate_id,
        trigger="manual",
        triggered_by=f"user:{principal.user_id}",
        user_id=principal.user_id,
        erased=[erased],
        now=now,
    )
    db.commit()
    return certificate


def _audit_head_problems(db: Session, *, settings: Settings, head: Any, certificate_id: str) -> list[str]:
    """The signed audit chain head must verify and still be the issue event's in the log.

    A certificate issued before certificates signed the head has none; the certificate's own signature
    covers the body, so a head cannot be stripped from a newer one.
    """
    if head is None:
        return []
    if not isinstance(head, dict) or not verify_checkpoint_detail(settings, head):
        return ["audit chain head signature does not verify"]
    event = db.scalar(select(AuditEvent).where(AuditEvent.seq == int(head["seq"])))
    if event is None or event.hash != head["hash"] or event.object_id != certificate_id:
        return [f"audit event {head['seq']} is not this certificate's issue event as signed"]
    return []


def verify_certificate(db: Session, *, settings: Settings, document: dict[str, Any]) -> list[str]:
    """Every mismatch between a certificate file, its signature and this installation's records."""
    problems = check_signature(document, trusted_public_pem=public_key_pem(settings))
    body = document.get("certificate")
    if not isinstance(body, dict):
        return problems
    certificate_id = str(body.get("certificate_id", ""))
    stored = db.get(DeletionCertificate, certificate_id)
    if stored is None:
        problems.append(f"certificate {certificate_id} was not issued by this installation")
    elif json.loads(stored.document_json).get("certificate") != body:
        problems.append("certificate differs from the one issued")
    problems += _audit_head_problems(
        db, settings=settings, head=body.get("audit_head"), certificate_id=certificate_id
    )
    listed = {str(d.get("document_id")): d for d in body.get("documents", [])}
    recorded = {
        t.document_id: t
        for t in db.scalars(
            select(DocumentTombstone).where(DocumentTombstone.certificate_id == certificate_id)
        )
    }
    for missing in sorted(set(recorded) - set(listed)):
        problems.append(f"document {missing} was erased under this certificate but is not listed")
    keys = keys_of(db)
    for document_id, entry in sorted(listed.items()):
        tombstone = recorded.get(document_id)
        if tombstone is None:
            problems.append(f"document {document_id} has no tombstone for this certificate")
            continue
        if entry.get("sha256") != tombstone.sha256 or entry.get("page_count") != tombstone.page_count:
            problems.append(f"document {document_id}: hash or page count differs from its tombstone")
        if db.scalar(select(func.count()).select_from(Document).where(Document.id == document_id)):
            problems.append(f"document {document_id} still exists")
        if keys.exists(document_id):
            problems.append(f"document {document_id} still has a data key")
        if not (entry.get("verification") or {}).get("key_absent"):
            problems.append(f"document {document_id}: erase verification did not pass")
    return problems


@dataclass(frozen=True)
class JobResult:
    run: RunResult
    housekeeping: Any
    expired_exports: int = 0


def retention_job(
    db: Session,
    *,
    settings: Settings,
    store: BlobStore,
    now: datetime | None = None,
    trigger: str = "schedule",
) -> JobResult:
    """What beat runs and ``ocr-service retention run`` runs: erase due documents, then expire the rest."""
    from ocr_service.retention.exports import expire_kept_exports
    from ocr_service.retention.housekeeping import expire_everything_else

    run = run_retention(db, settings=settings, store=store, now=now, trigger=trigger)
    expired_exports = expire_kept_exports(db, settings=settings, store=store, now=now or utcnow())
    housekeeping = expire_everything_else(
        db,
        store=store,
        data_dirs=[settings.resolved_storage_dir, settings.resolved_key_dir, settings.data_dir / "keys"],
        grace_s=settings.orphan_grace_s,
        # --now only decides which documents are due; sessions and orphans expire by the real clock.
        now=utcnow(),
    )
    return JobResult(run=run, housekeeping=housekeeping, expired_exports=expired_exports)
