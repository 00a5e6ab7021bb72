"""Ingest one document: rasterise, recognise page by page, store results. Called by the Celery task."""

from __future__ import annotations

import logging
from datetime import timedelta

import cv2
import numpy as np
from celery.exceptions import SoftTimeLimitExceeded

from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document
from ocr_service.documents.processing import (
    claim_document,
    ensure_pages,
    extend_lease,
    mark_failed,
    mark_recognized,
    save_page_reading,
)
from ocr_service.forms.models import FormDefinition
from ocr_service.forms.service import layout_of
from workers.pipeline.raster import RasterError, rasterize_pdf, render_template
from workers.runtime import WorkerRuntime

logger = logging.getLogger(__name__)

INTERNAL_ERROR_JA = "内部エラーのため読み取れませんでした。管理者に連絡してください。"
TIMEOUT_JA = "処理時間の上限を超えたため読み取りを中止しました。ページ数を減らして再度取り込んでください。"


def encode_png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed")
    return bytes(buffer.tobytes())


def run_ingest(*, document_id: str, runtime: WorkerRuntime) -> str:
    """Process ``document_id`` if this worker can claim it; returns what happened (for logs and tests)."""
    settings = runtime.settings
    lease = timedelta(seconds=settings.task_time_limit_s + 30)
    with runtime.session_factory() as db:
        set_scope(db, SYSTEM_SCOPE)
        if not claim_document(db, document_id=document_id, lease=lease):
            logger.info("ingest %s skipped: not claimable (done, failed, missing or held)", document_id)
            return "skipped"
        try:
            document = db.get(Document, document_id)
            assert document is not None and document.form_id is not None
            form = db.get(FormDefinition, document.form_id)
            assert form is not None
            layout = layout_of(form)
            pages = ensure_pages(db, document=document, layout_pages=layout.pages)
            todo = [p for p in pages if p.status == "pending"]
            if todo:
                images = rasterize_pdf(
                    runtime.store.get(document.blob_key),
                    dpi=settings.raster_dpi,
                    timeout_s=settings.raster_timeout_s,
                    max_pages=settings.max_pages,
                    max_pixels=settings.max_page_pixels,
                )
                templates = render_template(
                    runtime.store.get(form.template_blob_key), dpi=settings.raster_dpi
                )
                for page in todo:
                    image = images[page.page_no - 1]
                    reading = runtime.pipeline.process_page(
                        image,
                        layout=layout,
                        layout_page=page.layout_page,
                        page_no=page.page_no,
                        template_image=templates[page.layout_page - 1],
                    )
                    save_page_reading(
                        db, page=page, reading=reading, page_png=encode_png(image), store=runtime.store
                    )
                    extend_lease(db, document_id=document_id, lease=lease)
                    logger.info("ingest %s page %d: %s", document_id, page.page_no, reading.status)
            mark_recognized(db, document_id=document_id)
            return "recognized"
        except RasterError as exc:
            logger.info("ingest %s failed: %s", document_id, exc)
            mark_failed(db, document_id=document_id, reason=exc.reason)
            return "failed"
        except SoftTimeLimitExceeded:
            mark_failed(db, document_id=document_id, reason=TIMEOUT_JA)
            return "failed"
        except Exception:
            logger.exception("ingest %s failed unexpectedly", document_id)
            mark_failed(db, document_id=document_id, reason=INTERNAL_ERROR_JA)
            return "failed"
