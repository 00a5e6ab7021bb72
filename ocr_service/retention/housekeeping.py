"""Everything else that could hold personal data expires too: orphan blobs and keys, temp files,
expired login sessions. Runs after every retention run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ocr_service.auth.models import LoginSession
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.export.models import ExportRecord
from ocr_service.forms.models import FormDefinition, FormDraft
from ocr_service.keys.service import INSTALLATION_OWNER, keys_of
from ocr_service.retention.exports import kept_export_owners
from ocr_service.storage.backends import ObjectNotFoundError
from ocr_service.storage.blobs import BlobStore


@dataclass(frozen=True)
class HousekeepingResult:
    orphan_blobs: int
    orphan_keys: int
    temp_files: int
    expired_sessions: int


def _referenced_blobs(db: Session) -> set[str]:
    keys: set[str] = set(db.scalars(select(Document.blob_key)))
    keys |= {k for k in db.scalars(select(Page.image_blob_key)) if k}
    keys |= {k for k in db.scalars(select(FieldResult.crop_blob_key)) if k}
    keys |= set(db.scalars(select(FormDefinition.template_blob_key)))
    keys |= set(db.scalars(select(FormDraft.template_blob_key)))  # templates in the layout editor
    keys |= {k for k in db.scalars(select(ExportRecord.blob_key)) if k}  # kept exports (retention/exports.py)
    return keys


def _remove_temp_files(root: Path, *, older_than_s: float) -> int:
    cutoff = time.time() - older_than_s
    removed = 0
    for path in root.glob("**/.tmp-*") if root.is_dir() else []:
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def expire_everything_else(
    db: Session, *, store: BlobStore, data_dirs: list[Path], grace_s: float, now: datetime
) -> HousekeepingResult:
    """Remove what no row refers to: a blob whose key is erased at once, others after ``grace_s``
    (an upload in progress writes its blob and key before its row commits)."""
    keys = keys_of(db)
    referenced = _referenced_blobs(db)
    cutoff = time.time() - grace_s
    orphan_blobs = 0
    for key in list(store.iter_keys()):
        if key in referenced:
            continue
        owner = store.owner_of(key)
        erased = owner is None or (owner != INSTALLATION_OWNER and not keys.exists(owner))
        if not erased:
            try:
                # Every object store knows when an object was written (local mtime, S3 LastModified).
                if store.objects.modified_at(key) >= cutoff:
                    continue
            except ObjectNotFoundError:
                continue  # removed meanwhile
        store.delete(key)
        orphan_blobs += 1
    live_documents = set(db.scalars(select(Document.id))) | kept_export_owners(db)
    orphan_keys = 0
    for owner in list(keys.store.owners()):
        if owner == INSTALLATION_OWNER or owner in live_documents:
            continue
        path = keys.store.root / owner[:2] / f"{owner}.key"
        if path.is_file() and path.stat().st_mtime < cutoff:
            keys.destroy(owner)
            orphan_keys += 1
    temp_files = sum(_remove_temp_files(d, older_than_s=grace_s) for d in data_dirs)
    expired = db.execute(
        delete(LoginSession).where(LoginSession.expires_at < now).execution_options(synchronize_session=False)
    )
    db.commit()
    return HousekeepingResult(
        orphan_blobs=orphan_blobs,
        orphan_keys=orphan_keys,
        temp_files=temp_files,
        expired_sessions=int(getattr(expired, "rowcount", 0) or 0),
    )
