"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ocr_service.audit.operations import run_checkpoint, run_verify
from ocr_service.audit.service import SystemPrincipal
from ocr_service.config import get_settings
from ocr_service.db.base import make_engine, make_session_factory, utcnow
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.processing import take_stale_documents
from ocr_service.retention.service import retention_job
from workers.celery_app import (
    AUDIT_CHECKPOINT_TASK,
    AUDIT_VERIFY_TASK,
    INGEST_TASK,
    RETENTION_TASK,
    SWEEP_TASK,
    celery_app,
)
from workers.ingest import DocumentHeldError, run_ingest
from workers.runtime import worker_runtime

logger = logging.getLogger(__name__)


@celery_app.task(name=INGEST_TASK, bind=True, max_retries=None)
def ingest(self: Any, document_id: str) -> str:
    try:
        return run_ingest(document_id=document_id, runtime=worker_runtime())
    except DocumentHeldError as exc:
        countdown = retry_countdown(exc.until, lease_ttl_s=worker_runtime().settings.lease_ttl_s)
        logger.info("ingest %s held by a live worker; retrying in %.0f s", document_id, countdown)
        raise self.retry(countdown=countdown) from exc


def retry_countdown(until: datetime | None, *, lease_ttl_s: int) -> float:
    """Seconds until just after the holder's lease runs out (at least 1, at most one TTL + 1).

    Redelivered while a worker holds the document: if the holder is alive it has renewed by
    then and we wait again; if it died, we take over at once.
    """
    wait = (until - utcnow()).total_seconds() if until is not None else 0.0
    return min(max(1.0, wait + 1.0), float(lease_ttl_s + 1))


@celery_app.task(name=SWEEP_TASK)
def sweep_stale() -> int:
    """Re-send documents whose task was lost (enqueue failed, or the worker died); the last resort."""
    runtime = worker_runtime()
    with runtime.session_factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        ids = take_stale_documents(db, older_than=timedelta(seconds=runtime.settings.stale_after_s))
    for document_id in ids:
        celery_app.send_task(INGEST_TASK, args=[document_id])
    if ids:
        logger.info("re-enqueued %d stale documents", len(ids))
    return len(ids)


@lru_cache(maxsize=1)
def _audit_sessions() -> sessionmaker[Session]:
    # Audit jobs need only the database, not the OCR runtime (no model load for a checkpoint).
    return make_session_factory(make_engine(get_settings().resolved_database_url))


@celery_app.task(name=AUDIT_CHECKPOINT_TASK)
def audit_checkpoint() -> int:
    detail = run_checkpoint(_audit_sessions(), settings=get_settings(), principal=SystemPrincipal("beat"))
    return int(detail["seq"])


@celery_app.task(name=AUDIT_VERIFY_TASK)
def audit_verify() -> bool:
    return run_verify(_audit_sessions(), settings=get_settings(), principal=SystemPrincipal("beat")).ok


@celery_app.task(name=RETENTION_TASK)
def retention() -> int:
    """The retention job (ocr_service/retention); ``ocr-service retention run`` runs the same code."""
    runtime = worker_runtime()
    with runtime.session_factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        result = retention_job(db, settings=runtime.settings, store=runtime.store, trigger="schedule")
    return result.run.erased
