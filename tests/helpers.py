"""Shared test helpers that build processed documents without running OCR."""

from __future__ import annotations

import cv2
import numpy as np
from sqlalchemy.orm import Session

from ocr_service.auth.models import User
from ocr_service.db.base import new_id
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document, FieldResult
from ocr_service.documents.processing import ensure_pages, finish_reading, save_page_reading
from ocr_service.documents.sealing import open_field_results, seal_document_name
from ocr_service.documents.status import DocumentStatus, transition_document
from ocr_service.forms.models import FormDefinition
from ocr_service.keys.service import create_document_key
from ocr_service.storage.blobs import BlobStore
from tests.factories import pdf_bytes
from workers.pipeline.types import FieldReading, PageReading


def png(width: int = 40, height: int = 20) -> bytes:
    ok, buf = cv2.imencode(".png", np.full((height, width), 255, dtype=np.uint8))
    assert ok
    return bytes(buf.tobytes())


def new_document(db: Session, *, store: BlobStore, name: str, data: bytes, **columns: object) -> Document:
    """A document row as upload makes it: its own data key, the PDF stored and the name sealed with it."""
    set_scope(db, SYSTEM_SCOPE)
    document_id = new_id()
    dek = create_document_key(db, document_id=document_id)
    document = Document(
        id=document_id,
        original_filename_sealed=seal_document_name(db, document_id=document_id, name=name),
        sha256="0" * 64,
        size_bytes=len(data),
        blob_key=store.put(data, dek=dek),
        **columns,
    )
    db.add(document)
    db.flush()
    return document


def make_recognized_document(
    db: Session,
    *,
    user: User,
    form: FormDefinition,
    store: BlobStore,
    values: dict[str, str | bool],
    confidences: dict[str, float] | None = None,
) -> Document:
    """A document as the worker leaves it: one page, one field result per value, status recognized.

    Fields named in ``confidences`` get that confidence (below the threshold: flagged for review).
    """
    confidences = confidences or {}
    set_scope(db, SYSTEM_SCOPE)
    data = pdf_bytes()
    document_id = new_id()
    dek = create_document_key(db, document_id=document_id)
    document = Document(
        id=document_id,
        org_id=user.org_id,
        form_id=form.id,
        uploaded_by=user.id,
        original_filename_sealed=seal_document_name(db, document_id=document_id, name="scan.pdf"),
        sha256="0" * 64,
        size_bytes=len(data),
        page_count=1,
        blob_key=store.put(data, dek=dek),
        status=DocumentStatus.PROCESSING,
    )
    db.add(document)
    db.flush()
    (page,) = ensure_pages(db, document=document, layout_pages=1)
    reading = PageReading(
        page_no=1,
        status="ok",
        inliers=100,
        residual_px=1.0,
        fields=[
            FieldReading(
                name=k,
                value=v,
                confidence=confidences.get(k, 0.95),
                crop_png=png(),
                status="low_confidence" if confidences.get(k, 0.95) < 0.8 else "ok",
            )
            for k, v in values.items()
        ],
    )
    save_page_reading(db, page=page, reading=reading, page_png=png(200, 280), store=store)
    finish_reading(db, document_id=document.id, store=store)
    db.refresh(document)
    return document


def make_confirmed_document(
    db: Session, *, user: User, form: FormDefinition, store: BlobStore, values: dict[str, str | bool]
) -> Document:
    """A recognised document a reviewer has confirmed (ready for CSV export)."""
    document = make_recognized_document(db, user=user, form=form, store=store, values=values)
    set_scope(db, SYSTEM_SCOPE)
    transition_document(
        db,
        document_id=document.id,
        from_statuses=(DocumentStatus.RECOGNIZED,),
        to_status=DocumentStatus.CONFIRMED,
        confirmed_by=user.id,
    )
    db.flush()
    db.refresh(document)
    return document


def plain_value(db: Session, result: FieldResult | None) -> str:
    """A stored field value, opened with its document's key (the column holds ciphertext)."""
    assert result is not None
    db.refresh(result)
    return open_field_results(db, [result])[0].value
