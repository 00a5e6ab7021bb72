"""CSV export for core systems: one row per filled form, columns in layout order."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.forms.models import FormDefinition
from ocr_service.forms.service import get_latest_form, layout_of

CsvEncoding = Literal["cp932", "utf-8", "utf-8-sig"]
EXPORTABLE_STATUSES = ("recognized",)


class ExportError(ValueError):
    """The export cannot be made as asked; the message names the document and field."""


@dataclass(frozen=True)
class CsvExport:
    content: bytes
    rows: int
    document_ids: list[str]
    filename: str


def build_form_csv(db: Session, *, form_code: str, encoding: CsvEncoding = "cp932") -> CsvExport:
    """Build the CSV for every exportable document of ``form_code`` in the session's organisation."""
    latest = get_latest_form(db, code=form_code)
    layout = layout_of(latest)
    form_ids = list(db.scalars(select(FormDefinition.id).where(FormDefinition.code == form_code)))
    documents = list(
        db.scalars(
            select(Document)
            .where(
                # Unnamed uploads are identified page by page: the form is on the page.
                or_(
                    Document.form_id.in_(form_ids),
                    Document.id.in_(select(Page.document_id).where(Page.form_id.in_(form_ids))),
                ),
                Document.status.in_(EXPORTABLE_STATUSES),
            )
            .order_by(Document.created_at, Document.id)
        )
    )
    buffer = io.StringIO()
    # Core systems on Windows expect CRLF and every field quoted the same way.
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["文書ID", "ページ", *[spec.column_header for spec in layout.fields]])
    rows = 0
    for document in documents:
        pages = list(db.scalars(select(Page).where(Page.document_id == document.id).order_by(Page.page_no)))
        results = list(db.scalars(select(FieldResult).where(FieldResult.document_id == document.id)))
        by_page: dict[str, dict[str, str]] = {}
        for result in results:
            by_page.setdefault(result.page_id, {})[result.field_name] = result.value
        # One row per filled form: a multi-page layout merges its pages, a PDF of several forms gives several rows.
        groups: dict[int, dict[str, str]] = {}
        first_page: dict[int, int] = {}
        pages = [p for p in pages if (p.form_id or document.form_id) in form_ids]
        for page in pages:
            group = (page.page_no - 1) // layout.pages
            groups.setdefault(group, {}).update(by_page.get(page.id, {}))
            first_page.setdefault(group, page.page_no)
        for group, values in sorted(groups.items()):
            if not values:
                continue
            row = [
                document.id,
                str(first_page[group]),
                *[values.get(spec.name, "") for spec in layout.fields],
            ]
            for spec, value in zip(layout.fields, row[2:], strict=True):
                try:
                    value.encode(encoding)
                except UnicodeEncodeError as exc:
                    bad = value[exc.start : exc.end]
                    raise ExportError(
                        f"文書 {document.id} の項目「{spec.label}」の文字「{bad}」は {encoding} で出力できません。"
                    ) from exc
            writer.writerow(row)
            rows += 1
    return CsvExport(
        content=buffer.getvalue().encode(encoding),
        rows=rows,
        document_ids=[d.id for d in documents],
        filename=f"{form_code}.csv",
    )
