"""Past exports: listed per form and downloadable again (the stored, encrypted file) until retention
removes it. Every download is audited: a second copy of personal data leaving the system is an event."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal
from ocr_service.documents.service import DocumentNotFoundError
from ocr_service.export.models import ExportRecord
from ocr_service.export.service import export_key_owner
from ocr_service.keys.service import document_key
from ocr_service.storage.blobs import BlobStore


def list_exports(db: Session, *, form_code: str | None = None, limit: int = 100) -> list[ExportRecord]:
    query = select(ExportRecord).order_by(ExportRecord.created_at.desc(), ExportRecord.id).limit(limit)
    if form_code:
        query = query.where(ExportRecord.form_code == form_code)
    return list(db.scalars(query))


def download_export(
    db: Session, *, principal: Principal, export_id: str, store: BlobStore
) -> tuple[ExportRecord, bytes]:
    """The file of a past export; not found when it is another org's or retention removed it."""
    record = db.get(ExportRecord, export_id)
    if record is None or record.blob_key is None:
        raise DocumentNotFoundError(export_id)
    content = store.get(record.blob_key, dek=document_key(db, document_id=export_key_owner(record.id)))
    audit(
        db,
        principal,
        "export.download",
        obj_type="export",
        obj_id=record.id,
        form_code=record.form_code,
        detail={"form": record.form_code, "rows": record.rows, "filename": record.filename},
    )
    db.commit()
    return record, content
