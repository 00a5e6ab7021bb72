"""Recognised and typed text at rest: sealed with the document's data key, opened per session.

Each sealed value is bound to its table, column and row id (associated data), so a value copied
to another row or document fails to open. Erasing the document's key makes every value
unreadable, in the live database and in every backup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from ocr_service.db.base import set_opened_plain
from ocr_service.documents.models import Document, FieldResult
from ocr_service.keys.service import open_text, seal_text
from ocr_service.review.models import BlindEntry

_Row = TypeVar("_Row", FieldResult, BlindEntry)
AUDIT_SEALED_KEY = "sealed"
"""Audit details keep personal values under this key, sealed with the document's key."""


def seal_document_name(db: Session, *, document_id: str, name: str) -> str:
    return seal_text(db, document_id=document_id, purpose="documents.original_filename", value=name)


def open_document_names(db: Session, documents: Iterable[Document]) -> list[Document]:
    """Open each document's display name for this session."""
    rows = list(documents)
    for row in rows:
        plain = open_text(
            db, document_id=row.id, purpose="documents.original_filename", sealed=row.original_filename_sealed
        )
        set_opened_plain(row, "original_filename_sealed", plain)
    return rows


def seal_field_value(db: Session, *, document_id: str, result_id: str, value: str) -> str:
    return seal_text(db, document_id=document_id, purpose=f"field_results.value|{result_id}", value=value)


def seal_read_value(db: Session, *, document_id: str, result_id: str, value: str) -> str:
    """The machine's reading, kept (sealed) so confirming can tell an accepted value from a corrected one."""
    return seal_text(db, document_id=document_id, purpose=f"field_results.read_value|{result_id}", value=value)


def open_read_value(db: Session, result: FieldResult) -> str | None:
    """The machine's reading of a result (None for rows read before it was kept)."""
    if result.read_value_sealed is None:
        return None
    return open_text(
        db, document_id=result.document_id, purpose=f"field_results.read_value|{result.id}", sealed=result.read_value_sealed
    )


def open_field_results(db: Session, results: Iterable[FieldResult]) -> list[FieldResult]:
    """Decrypt ``value`` of each result for this session (the rows stay sealed in the database)."""
    rows = list(results)
    for row in rows:
        plain = open_text(
            db, document_id=row.document_id, purpose=f"field_results.value|{row.id}", sealed=row.value_sealed
        )
        set_opened_plain(row, "value_sealed", plain)
        if row.reason_sealed is not None:
            reason = open_text(
                db,
                document_id=row.document_id,
                purpose=f"field_results.reason|{row.id}",
                sealed=row.reason_sealed,
            )
            set_opened_plain(row, "reason_sealed", reason)
    return rows


def seal_blind_value(db: Session, *, document_id: str, entry_id: str, column: str, value: str) -> str:
    return seal_text(db, document_id=document_id, purpose=f"blind_entries.{column}|{entry_id}", value=value)


def open_blind_entries(db: Session, entries: Iterable[BlindEntry]) -> list[BlindEntry]:
    rows = list(entries)
    for row in rows:
        for column in ("value", "first_value"):
            sealed = getattr(row, f"{column}_sealed")
            plain = open_text(
                db, document_id=row.document_id, purpose=f"blind_entries.{column}|{row.id}", sealed=sealed
            )
            set_opened_plain(row, f"{column}_sealed", plain)
    return rows


def sealed_audit_values(db: Session, *, document_id: str, action: str, values: dict[str, Any]) -> str:
    """Personal values of an audit detail (old/new/blind), sealed: the hash chain covers the
    ciphertext, so erasing the document's key removes the values without breaking the chain."""
    return seal_text(db, document_id=document_id, purpose=f"audit|{action}", value=json.dumps(values))


def open_audit_values(db: Session, *, document_id: str, action: str, sealed: str) -> dict[str, Any]:
    opened = json.loads(open_text(db, document_id=document_id, purpose=f"audit|{action}", sealed=sealed))
    assert isinstance(opened, dict)
    return opened
