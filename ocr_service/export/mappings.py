"""The organisation's replacement table for characters legacy encodings cannot hold (admin-maintained)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal
from ocr_service.export.models import CharMapping


class MappingError(ValueError):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def list_char_mappings(db: Session) -> list[CharMapping]:
    return list(db.scalars(select(CharMapping).order_by(CharMapping.source)))


def mapping_table(db: Session) -> dict[str, str]:
    return {m.source: m.replacement for m in list_char_mappings(db)}


def set_char_mapping(
    db: Session, *, principal: Principal, source: str, replacement: str, note: str = ""
) -> CharMapping:
    """Create or change the replacement for one character (one code point)."""
    if len(source) != 1:
        raise MappingError("置換元は 1 文字で指定してください。", code="bad_source")
    if "?" in replacement or "？" in replacement:
        # A '?' would be the silent loss the mapping exists to prevent. An empty replacement is
        # allowed on purpose: dropping an ideographic variation selector (U+E0100…) is a real policy.
        raise MappingError("置換先には「?」以外の文字を指定してください。", code="bad_replacement")
    mapping = db.scalar(select(CharMapping).where(CharMapping.source == source))
    old = mapping.replacement if mapping else None
    if mapping is None:
        mapping = CharMapping(org_id=principal.org_id, source=source, created_by=principal.user_id)
        db.add(mapping)
    mapping.replacement = replacement
    mapping.note = note
    db.flush()
    audit(
        db,
        principal,
        "export.mapping_set",
        obj_type="char_mapping",
        obj_id=str(mapping.id),
        detail={"source": source, "old": old, "new": replacement},
    )
    db.commit()
    return mapping


def delete_char_mapping(db: Session, *, principal: Principal, mapping_id: int) -> None:
    mapping = db.get(CharMapping, mapping_id)
    if mapping is None:
        raise MappingError("見つかりません。", code="not_found")
    audit(
        db,
        principal,
        "export.mapping_delete",
        obj_type="char_mapping",
        obj_id=str(mapping.id),
        detail={"source": mapping.source, "old": mapping.replacement},
    )
    db.delete(mapping)
    db.commit()
