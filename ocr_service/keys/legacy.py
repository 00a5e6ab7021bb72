"""Upgrade data written before envelope encryption (revision 0006): one pass, idempotent.

Before 0006 every blob was AES-GCM under SHA-256(OCR_STORAGE_KEY) (header ``OCRB1``) and
recognised text sat in clear in the database. This gives each document its own data key,
re-encrypts its blobs under it, seals its values, blind entries and the personal values of its
audit details, and moves form templates to the installation key. Run by migration 0006.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Connection

from ocr_service.config import Settings
from ocr_service.documents.sealing import AUDIT_SEALED_KEY
from ocr_service.keys.datakey import DataKey
from ocr_service.keys.service import INSTALLATION_OWNER, Keys, is_sealed, seal_with
from ocr_service.storage.blobs import BlobStore, LocalBlobStore

_OLD_MAGIC = b"OCRB1"
_PERSONAL_AUDIT_KEYS = ("old", "new", "blind", "changes")


def _reencrypt(store: BlobStore, legacy: AESGCM, key: str | None, dek: DataKey) -> str | None:
    """The blob under a new object key encrypted with ``dek``; already-converted blobs stay as they are."""
    if not key or not store.exists(key):
        return key
    payload = store.objects.get_bytes(key)
    if not payload.startswith(_OLD_MAGIC):
        return key
    nonce = payload[len(_OLD_MAGIC) : len(_OLD_MAGIC) + 12]
    data = legacy.decrypt(nonce, payload[len(_OLD_MAGIC) + 12 :], key.encode("ascii"))
    new_key = store.put(data, dek=dek)
    store.delete(key)
    return new_key


def migrate_legacy_data(conn: Connection, settings: Settings) -> int:
    """Convert every pre-0006 document; returns how many were converted."""
    meta = sa.MetaData()
    forms = sa.Table("form_definitions", meta, autoload_with=conn)
    documents = sa.Table("documents", meta, autoload_with=conn)
    if not conn.execute(sa.select(forms.c.id).limit(1)).first():
        return 0  # a new installation: nothing to convert, and no key or folder is created
    keys = Keys.from_settings(settings)
    store = LocalBlobStore(settings.resolved_storage_dir)
    legacy = AESGCM(hashlib.sha256(settings.storage_key.get_secret_value().encode("utf-8")).digest())
    pages = sa.Table("pages", meta, autoload_with=conn)
    results = sa.Table("field_results", meta, autoload_with=conn)
    blind = sa.Table("blind_entries", meta, autoload_with=conn)
    audit = sa.Table("audit_events", meta, autoload_with=conn)
    installation = keys.load_or_create(INSTALLATION_OWNER)
    for form_id, key in conn.execute(sa.select(forms.c.id, forms.c.template_blob_key)).all():
        new = _reencrypt(store, legacy, key, installation)
        if new != key:
            conn.execute(forms.update().where(forms.c.id == form_id).values(template_blob_key=new))
    converted = 0
    for doc_id, blob_key, name in conn.execute(
        sa.select(documents.c.id, documents.c.blob_key, documents.c.original_filename)
    ).all():
        if keys.exists(doc_id):
            continue
        dek = keys.create(doc_id)
        converted += 1
        conn.execute(
            documents.update()
            .where(documents.c.id == doc_id)
            .values(
                blob_key=_reencrypt(store, legacy, blob_key, dek),
                original_filename=seal_with(
                    dek, document_id=doc_id, purpose="documents.original_filename", value=name
                ),
            )
        )
        for page_id, key in conn.execute(
            sa.select(pages.c.id, pages.c.image_blob_key).where(pages.c.document_id == doc_id)
        ).all():
            conn.execute(
                pages.update()
                .where(pages.c.id == page_id)
                .values(image_blob_key=_reencrypt(store, legacy, key, dek))
            )
        for row_id, value, reason, key in conn.execute(
            sa.select(results.c.id, results.c.value, results.c.reason, results.c.crop_blob_key).where(
                results.c.document_id == doc_id
            )
        ).all():
            sealed = (
                value
                if is_sealed(value)
                else seal_with(dek, document_id=doc_id, purpose=f"field_results.value|{row_id}", value=value)
            )
            conn.execute(
                results.update()
                .where(results.c.id == row_id)
                .values(
                    value=sealed,
                    reason=reason
                    if reason is None or is_sealed(reason)
                    else seal_with(
                        dek, document_id=doc_id, purpose=f"field_results.reason|{row_id}", value=reason
                    ),
                    crop_blob_key=_reencrypt(store, legacy, key, dek),
                )
            )
        for row_id, value, first in conn.execute(
            sa.select(blind.c.id, blind.c.value, blind.c.first_value).where(blind.c.document_id == doc_id)
        ).all():
            conn.execute(
                blind.update()
                .where(blind.c.id == row_id)
                .values(
                    value=seal_with(
                        dek, document_id=doc_id, purpose=f"blind_entries.value|{row_id}", value=value
                    ),
                    first_value=seal_with(
                        dek, document_id=doc_id, purpose=f"blind_entries.first_value|{row_id}", value=first
                    ),
                )
            )
        _seal_audit(conn, audit, dek, doc_id)
    return converted


def _seal_audit(conn: Connection, audit: sa.Table, dek: DataKey, doc_id: str) -> None:
    import json

    rows = conn.execute(
        sa.select(audit.c.id, audit.c.action, audit.c.object_id, audit.c.detail).where(
            audit.c.action.in_(("review.field_edit", "review.field_accept", "review.arbitrate"))
        )
    ).all()
    for event_id, action, object_id, detail in rows:
        data: dict[str, Any] = detail if isinstance(detail, dict) else json.loads(detail or "{}")
        if data.get("document", object_id) != doc_id or AUDIT_SEALED_KEY in data:
            continue
        personal = {k: data.pop(k) for k in _PERSONAL_AUDIT_KEYS if k in data}
        if not personal:
            continue
        data[AUDIT_SEALED_KEY] = seal_with(
            dek, document_id=doc_id, purpose=f"audit|{action}", value=json.dumps(personal)
        )
        conn.execute(audit.update().where(audit.c.id == event_id).values(detail=data))
