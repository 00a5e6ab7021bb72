"""Checkpoint and verify as whole operations (own session, commit), for the CLI and beat alike."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.audit.chain import ChainReport
from ocr_service.audit.checkpoints import create_checkpoint, verify_audit_log, write_checkpoint_file
from ocr_service.audit.models import AuditEvent
from ocr_service.audit.service import AuditPrincipal, audit, event_values
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope

logger = logging.getLogger(__name__)

VERIFY_OK = "audit.verify"
VERIFY_FAILED = "audit.verify_failed"


def run_checkpoint(
    session_factory: sessionmaker[Session], *, settings: Settings, principal: AuditPrincipal
) -> dict[str, Any]:
    with session_factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        event = create_checkpoint(
            db, settings=settings, values=event_values(db, principal, "audit.checkpoint")
        )
        detail = dict(event.detail)
        db.commit()
    # After commit: a file line for a checkpoint that rolled back would name a head that never was.
    write_checkpoint_file(settings, detail)
    return detail


def run_verify(
    session_factory: sessionmaker[Session], *, settings: Settings, principal: AuditPrincipal
) -> ChainReport:
    """Verify, then record the outcome; a failure is an alert event (and the admin console banner)."""
    with session_factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        report = verify_audit_log(db, settings=settings)
        db.rollback()
        first = report.problems[0] if report.problems else None
        detail = {
            "events": report.events,
            "checkpoints": report.checkpoints,
            "first_bad_seq": report.first_bad_seq,
            "reason": min(report.problems, key=lambda p: p.seq).reason if first else "",
        }
        audit(db, principal, VERIFY_OK if report.ok else VERIFY_FAILED, obj_type="audit_log", detail=detail)
        db.commit()
    if not report.ok:
        logger.error("AUDIT LOG TAMPERING DETECTED at seq %s: %s", detail["first_bad_seq"], detail["reason"])
    return report


def latest_verify_failure(db: Session) -> AuditEvent | None:
    """The last verification, if it failed (the console shows a banner until a later one passes)."""
    latest = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.action.in_((VERIFY_OK, VERIFY_FAILED)))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    return latest if latest is not None and latest.action == VERIFY_FAILED else None
