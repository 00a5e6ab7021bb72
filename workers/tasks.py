"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging
from datetime import timedelta

from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.processing import take_stale_documents
from ocr_service.retention.service import retention_job
from workers.celery_app import INGEST_TASK, RETENTION_TASK, SWEEP_TASK, celery_app
from workers.ingest import run_ingest
from workers.runtime import worker_runtime

logger = logging.getLogger(__name__)


@celery_app.task(name=INGEST_TASK)
def ingest(document_id: str) -> str:
    return run_ingest(document_id=document_id, runtime=worker_runtime())


@celery_app.task(name=SWEEP_TASK)
def sweep_stale() -> int:
    """Re-send documents whose task was lost (enqueue failed, or the worker died)."""
    runtime = worker_runtime()
    with runtime.session_factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        ids = take_stale_documents(db, older_than=timedelta(seconds=runtime.settings.stale_after_s))
    for document_id in ids:
        celery_app.send_task(INGEST_TASK, args=[document_id])
    if ids:
        logger.info("re-enqueued %d stale documents", len(ids))
    return len(ids)


@celery_app.task(name=RETENTION_TASK)
def retention() -> int:
    """The retention job (ocr_service/retention); ``ocr-service retention run`` runs the same code."""
    runtime = worker_runtime()
    with runtime.session_factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        result = retention_job(db, settings=runtime.settings, store=runtime.store, trigger="schedule")
    return result.run.erased
