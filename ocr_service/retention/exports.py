"""Kept exports expire with the retention period too: a CSV of confirmed forms is personal data.

Each kept export has its own data key (owner ``export-<id>``); destroying that key makes the file
unreadable at once, then the blob goes and the record stays as history without a file.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.service import SYSTEM, audit
from ocr_service.config import Settings
from ocr_service.export.models import ExportRecord
from ocr_service.export.service import export_key_owner
from ocr_service.keys.service import destroy_document_key
from ocr_service.orgs.models import Organisation
from ocr_service.review.service import as_aware
from ocr_service.storage.backends import ObjectNotFoundError
from ocr_service.storage.blobs import BlobStore


def kept_export_owners(db: Session) -> set[str]:
    """Key owners of the exports whose file is still kept (housekeeping must not take them for orphans)."""
    ids = db.scalars(select(ExportRecord.id).where(ExportRecord.blob_key.is_not(None)))
    return {export_key_owner(export_id) for export_id in ids}


def expire_kept_exports(db: Session, *, settings: Settings, store: BlobStore, now: datetime) -> int:
    """Crypto-erase every kept export older than its organisation's retention period; returns how many."""
    expired = 0
    for org in db.scalars(select(Organisation).order_by(Organisation.id)):
        cutoff = now - timedelta(days=org.retention_days or settings.retention_days)
        records = db.scalars(
            select(ExportRecord).where(ExportRecord.org_id == org.id, ExportRecord.blob_key.is_not(None))
        )
        for record in [r for r in records if as_aware(r.created_at) <= cutoff]:
            blob_key = record.blob_key
            assert blob_key is not None
            # Key first: once it is gone the file is unreadable, even if removing the blob fails.
            destroy_document_key(db, document_id=export_key_owner(record.id))
            with contextlib.suppress(ObjectNotFoundError):  # removed by an earlier, interrupted run
                store.delete(blob_key)
            record.blob_key = None
            audit(
                db,
                SYSTEM,
                "export.expire",
                org_id=org.id,
                obj_type="export",
                obj_id=record.id,
                form_code=record.form_code,
                detail={"rows": record.rows, "created_at": record.created_at.isoformat()},
            )
            db.commit()
            expired += 1
    return expired
