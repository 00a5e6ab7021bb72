"""Ingest one document: rasterise, recognise page by page, store results. Called by the Celery task.

An upload for a named form is read against that form version; one without is
identified page by page among the organisation's published forms (a PDF may
mix forms), and each page records the version it was read with.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import datetime, timedelta

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.orm import Session

from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document
from ocr_service.documents.processing import (
    claim_document,
    ensure_pages,
    finish_reading,
    forms_for_identification,
    mark_failed,
    renew_lease,
    save_page_reading,
)
from ocr_service.forms.models import FormDefinition
from ocr_service.forms.service import layout_of
from ocr_service.keys.service import KeyErasedError, document_key, installation_key
from workers.pipeline.document import NamedLayout, PriorPage, ReadAgainst, read_pdf
from workers.pipeline.identify import LayoutCandidate, candidates_for
from workers.pipeline.imaging import encode_png
from workers.pipeline.raster import RasterError
from workers.pipeline.types import PageReading
from workers.runtime import WorkerRuntime

logger = logging.getLogger(__name__)

INTERNAL_ERROR_JA = "内部エラーのため読み取れませんでした。管理者に連絡してください。"
TIMEOUT_JA = "処理時間の上限を超えたため読み取りを中止しました。ページ数を減らして再度取り込んでください。"


def _read_against(db: Session, runtime: WorkerRuntime, document: Document) -> tuple[ReadAgainst, int]:
    """What the document's pages are read against, and how many layout pages new page rows cycle through.

    An upload for a named form is read against that form version; one that named no form has
    each page identified among the organisation's published forms."""
    dek = installation_key(db)
    dpi = runtime.settings.raster_dpi
    if document.form_id is not None:
        form = db.get(FormDefinition, document.form_id)
        assert form is not None
        layout = layout_of(form)
        template_pdf = runtime.store.get(form.template_blob_key, dek=dek)
        return NamedLayout.from_template(layout, template_pdf, dpi=dpi), layout.pages
    candidates: list[LayoutCandidate] = []
    for form in forms_for_identification(db, org_id=document.org_id):
        candidates += candidates_for(
            key=form.id,
            layout=layout_of(form),
            template_pdf=runtime.store.get(form.template_blob_key, dek=dek),
            dpi=dpi,
        )
    return candidates, 1


class LeaseLostError(RuntimeError):
    """Another worker took the document over (this one stalled past its lease)."""


class LeaseHeartbeat:
    """Renews a document lease every third of its TTL from a thread, while this process lives.

    The thread dies with the process, so a killed worker's lease runs out within one TTL and
    the document is free for the next worker. ``lost`` is set when a renewal finds the lease
    taken over; the ingest loop checks it before each page.
    """

    def __init__(self, runtime: WorkerRuntime, *, document_id: str, token: str, lease: timedelta) -> None:
        self._runtime = runtime
        self._document_id = document_id
        self._token = token
        self._lease = lease
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{document_id[:8]}", daemon=True)

    def _run(self) -> None:
        interval = max(1.0, self._lease.total_seconds() / 3)
        while not self._stop.wait(interval):
            try:
                with self._runtime.session_factory() as db:
                    set_scope(db, SYSTEM_SCOPE)
                    if not renew_lease(db, document_id=self._document_id, token=self._token, lease=self._lease):
                        self.lost.set()
                        return
            except Exception:
                # A database hiccup: try again next tick; the lease has two more ticks of slack.
                logger.warning("lease renewal for %s failed", self._document_id, exc_info=True)

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLostError(self._document_id)

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class DocumentHeldError(RuntimeError):
    """A live worker holds the document; the task should try again when its lease runs out."""

    def __init__(self, document_id: str, until: datetime | None) -> None:
        super().__init__(f"document {document_id} is held until {until}")
        self.until = until


def run_ingest(*, document_id: str, runtime: WorkerRuntime) -> str:
    """Process ``document_id`` if this worker can claim it; returns what happened (for logs and tests).

    Raises :class:`DocumentHeldError` when a live worker holds it (the task retries after the lease).
    """
    settings = runtime.settings
    lease = timedelta(seconds=settings.lease_ttl_s)
    token = secrets.token_hex(16)
    with runtime.session_factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        claim = claim_document(db, document_id=document_id, token=token, lease=lease)
        if claim.outcome == "held":
            raise DocumentHeldError(document_id, claim.lease_expires_at)
        if claim.outcome == "gone":
            logger.info("ingest %s skipped: done, failed or missing", document_id)
            return "skipped"
        with LeaseHeartbeat(runtime, document_id=document_id, token=token, lease=lease) as heartbeat:
            return _process_claimed(db, document_id=document_id, runtime=runtime, token=token, heartbeat=heartbeat)


def _process_claimed(
    db: Session, *, document_id: str, runtime: WorkerRuntime, token: str, heartbeat: LeaseHeartbeat
) -> str:
    settings = runtime.settings
    try:
        document = db.get(Document, document_id)
        assert document is not None
        against, layout_pages = _read_against(db, runtime, document)
        pages = {p.page_no: p for p in ensure_pages(db, document=document, layout_pages=layout_pages)}
        if any(p.status == "pending" for p in pages.values()):

            def save(image: np.ndarray, reading: PageReading) -> None:
                # A worker that lost its lease while reading must not store over the new holder's work.
                heartbeat.check()
                page = pages[reading.page_no]
                save_page_reading(db, page=page, reading=reading, page_png=encode_png(image), store=runtime.store)
                logger.info("ingest %s page %d: %s", document_id, page.page_no, reading.status)

            read_pdf(
                runtime.store.get(document.blob_key, dek=document_key(db, document_id=document_id)),
                against,
                pipeline=runtime.pipeline,
                timeout_s=settings.raster_timeout_s,
                max_pages=settings.max_pages,
                max_pixels=settings.max_page_pixels,
                # A split-off document's PDF holds only its pages, which keep their batch numbers.
                first_page_no=document.page_from or 1,
                # Pages stored by an earlier try are not read again (they still count for layout pages).
                prior={n: PriorPage(p.status, p.layout_page) for n, p in pages.items() if p.status != "pending"},
                before_page=lambda _page_no: heartbeat.check(),
                on_page=save,
            )
        heartbeat.check()
        documents = finish_reading(db, document_id=document_id, store=runtime.store, token=token)
        if documents is None:
            raise LeaseLostError(document_id)
        logger.info("ingest %s split into %d document(s)", document_id, len(documents))
        return "recognized"
    except LeaseLostError:
        db.rollback()
        logger.warning("ingest %s stopped: the lease was taken over by another worker", document_id)
        return "lost"
    except RasterError as exc:
        logger.info("ingest %s failed: %s (%s)", document_id, exc.reason, exc.detail)
        mark_failed(db, document_id=document_id, reason=exc.reason, token=token)
        return "failed"
    except KeyErasedError:
        # Erased (retention or manual deletion) while queued or being read: nothing left to do.
        logger.info("ingest %s stopped: the document was erased", document_id)
        db.rollback()
        return "erased"
    except SoftTimeLimitExceeded:
        mark_failed(db, document_id=document_id, reason=TIMEOUT_JA, token=token)
        return "failed"
    except Exception:
        logger.exception("ingest %s failed unexpectedly", document_id)
        mark_failed(db, document_id=document_id, reason=INTERNAL_ERROR_JA, token=token)
        return "failed"
