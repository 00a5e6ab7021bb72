"""Review outcomes: what reviewers did with each machine reading, without keeping the reading.

When a document is confirmed, every field leaves one :class:`FieldOutcome`: the form, the
field, its type, the calibrated confidence the machine gave, whether the reviewer kept the
value or corrected it, and the edit distance of the correction. No value, no crop, no
document id: the rows outlive the documents (retention deletes those) and say nothing
about a resident, yet they measure the real residual error per form, which
``ocr-service calibrate --from-reviews`` turns into a calibration refit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ocr_service.db.base import Base, OrgScoped, new_id, utcnow
from ocr_service.documents.models import Document, FieldResult
from ocr_service.documents.sealing import open_read_value
from ocr_service.forms.layout import FormLayout

__all__ = [
    "FieldOutcome",
    "OutcomeRow",
    "outcome_rows",
    "record_field_outcomes",
    "residual_error_by_form",
]


class FieldOutcome(OrgScoped, Base):
    """One confirmed field: machine confidence and the reviewer's verdict (no value, no image)."""

    __tablename__ = "field_outcomes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    form_id: Mapped[str | None] = mapped_column(
        ForeignKey("form_definitions.id", ondelete="SET NULL"), default=None, index=True
    )
    form_code: Mapped[str] = mapped_column(String(64))
    field_name: Mapped[str] = mapped_column(String(64))
    field_type: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[float] = mapped_column(Float)
    """The calibrated confidence the pipeline stored for the field."""
    read_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    """The machine read the field as blank (calibrated in the ``empty`` group)."""
    corrected: Mapped[bool] = mapped_column(Boolean)
    edit_distance: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


def _comparable(value: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", value) if not ch.isspace())


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def record_field_outcomes(
    db: Session, *, document: Document, layout: FormLayout, form_code: str, results: Iterable[FieldResult]
) -> int:
    """Add one outcome per field of a document being confirmed (the caller commits).

    ``results`` must be opened (:func:`~ocr_service.documents.sealing.open_field_results`).
    Fields read before outcomes existed (no stored machine value) are skipped.

    Returns:
        the number of outcome rows added.
    """
    types = {spec.name: spec.type for spec in layout.fields}
    added = 0
    for result in results:
        machine = open_read_value(db, result)
        if machine is None or result.field_name not in types:
            continue
        # ``results`` are opened (``value`` is plain for this session); only the verdict is stored.
        read, final = _comparable(machine), _comparable(result.value)
        db.add(
            FieldOutcome(
                org_id=document.org_id,
                form_id=document.form_id,
                form_code=form_code,
                field_name=result.field_name,
                field_type=types[result.field_name],
                confidence=float(result.confidence),
                read_empty=read == "",
                corrected=read != final,
                edit_distance=_distance(read, final),
            )
        )
        added += 1
    return added


@dataclass(frozen=True)
class OutcomeRow:
    """An outcome as calibration and reports use it."""

    form_code: str
    field_type: str
    confidence: float
    corrected: bool
    read_empty: bool = False


def outcome_rows(db: Session, *, org_id: int | None = None) -> list[OutcomeRow]:
    """All outcomes (of one organisation when ``org_id`` is given), oldest first.

    ``db`` may be an unscoped system session (the CLI); a request session is scoped anyway.
    """
    query = select(FieldOutcome).order_by(FieldOutcome.created_at, FieldOutcome.id)
    if org_id is not None:
        query = query.where(FieldOutcome.org_id == org_id)
    return [
        OutcomeRow(o.form_code, o.field_type, float(o.confidence), bool(o.corrected), bool(o.read_empty))
        for o in db.scalars(query)
    ]


def residual_error_by_form(rows: Sequence[OutcomeRow], *, threshold: float) -> dict[str, dict[str, float | int]]:
    """Per form: fields, share auto-accepted (confidence ≥ threshold) and the corrected share among them."""
    out: dict[str, dict[str, float | int]] = {}
    for code in sorted({r.form_code for r in rows}):
        mine = [r for r in rows if r.form_code == code]
        accepted = [r for r in mine if r.confidence >= threshold]
        out[code] = {
            "n": len(mine),
            "auto_accept_rate": len(accepted) / len(mine),
            "residual_error": sum(r.corrected for r in accepted) / len(accepted) if accepted else 0.0,
            "corrected_rate": sum(r.corrected for r in mine) / len(mine),
        }
    return out
