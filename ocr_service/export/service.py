"""CSV export for core systems: confirmed documents of one form, shaped by the form's export profile.

Every value is checked against the target encoding before any byte is written: an
unencodable character either comes from the organisation's mapping table (policy
``replace``) or stops the export with the document and field named. Nothing is ever
written as '?'. A successful export marks its documents 出力済 and is audited.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal
from ocr_service.db.base import new_id, utcnow
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.documents.sealing import open_document_names
from ocr_service.documents.status import EXPORTABLE, DocumentStatus, transition_document
from ocr_service.export.dates import format_date, parse_japanese_date
from ocr_service.export.mappings import mapping_table
from ocr_service.export.models import ExportRecord
from ocr_service.export.profile import DOCUMENT_ID_COLUMN, ExportEncoding, ExportProfile
from ocr_service.export.text import apply_width, represent
from ocr_service.forms.layout import FieldSpec, FormLayout
from ocr_service.forms.models import FormDefinition
from ocr_service.forms.service import get_latest_form, layout_of
from ocr_service.keys.service import create_document_key
from ocr_service.review.service import merged_values, results_in_page_order
from ocr_service.storage.blobs import BlobStore

CHARSETS = {"cp932": "windows-31j", "shift_jis": "shift_jis", "utf-8": "utf-8", "utf-8-sig": "utf-8"}
_MAX_LISTED = 20


@dataclass(frozen=True)
class ExportProblem:
    document_id: str
    field_name: str
    label: str
    reason: str

    def message(self) -> str:
        return f"文書 {self.document_id} の項目「{self.label}」：{self.reason}"


class ExportError(ValueError):
    """The export cannot be made as asked; nothing was written and no document changed."""

    def __init__(self, problems: list[ExportProblem], *, code: str = "unencodable") -> None:
        lines = [p.message() for p in problems[:_MAX_LISTED]]
        if len(problems) > _MAX_LISTED:
            lines.append(f"ほか {len(problems) - _MAX_LISTED} 件")
        super().__init__("\n".join(lines))
        self.problems = problems
        self.code = code


@dataclass(frozen=True)
class CsvExport:
    content: bytes
    rows: int
    document_ids: list[str]
    filename: str
    encoding: ExportEncoding
    media_type: str = field(default="text/csv")


@dataclass(frozen=True)
class _Column:
    header: str
    spec: FieldSpec | None
    """None for the document id column."""
    width: str


def _columns(layout: FormLayout, profile: ExportProfile) -> list[_Column]:
    specs = {spec.name: spec for spec in layout.fields}
    if profile.columns is None:
        return [_Column("文書ID", None, "keep")] + [
            _Column(s.column_header, s, profile.width) for s in layout.fields
        ]
    columns = []
    for column in profile.columns:
        spec = None if column.field == DOCUMENT_ID_COLUMN else specs[column.field]
        header = column.header or (spec.column_header if spec else "文書ID")
        columns.append(_Column(header, spec, column.width or (profile.width if spec else "keep")))
    return columns


def _cell(
    value: str, *, column: _Column, profile: ExportProfile, encoding: str, mapping: dict[str, str] | None
) -> tuple[str, list[str]]:
    """The value as it goes into the file, and the reasons it cannot (Japanese)."""
    if (
        column.spec is not None
        and column.spec.type == "date"
        and value.strip()
        and profile.date_style != "keep"
    ):
        parsed = parse_japanese_date(value)
        if parsed is None:
            return value, [f"「{value}」は日付として読めません"]
        value = format_date(
            parsed, style=profile.date_style, separator=profile.date_separator, zero_pad=profile.zero_pad
        )
    value = apply_width(value, column.width)
    if profile.formula_guard == "prefix":
        value = neutralise_formula(value)
    value, bad = represent(value, encoding=encoding, mapping=mapping)
    reasons = []
    for item in bad:
        code = f"U+{ord(item.char):04X}"
        if item.replacement_unusable:
            reasons.append(f"文字「{item.char}」({code}) の置換先も {encoding} で出力できません")
        else:
            reasons.append(
                f"文字「{item.char}」({code}) は {encoding} で出力できません（置換表に登録してください）"
            )
    return value, reasons


FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")
"""OWASP CSV injection: characters a spreadsheet takes as the start of a formula (and full-width forms,
which some spreadsheets normalise)."""


def export_key_owner(export_id: str) -> str:
    """Owner name of a kept export's data key (the key store's owner namespace is shared with documents)."""
    return f"export-{export_id}"


def neutralise_formula(value: str) -> str:
    """Prefix ' to a cell a spreadsheet would run as a formula; everything else is unchanged."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


EXTRA_COLUMNS: dict[str, str] = {"batch": "取込ファイル", "pages": "ページ", "received": "受付日時"}
"""Optional columns after the profile's: batch filename, page range in the scan, upload time (JST)."""
_JST = timezone(timedelta(hours=9), "JST")


def _extra_value(key: str, document: Document) -> str:
    if key == "batch":
        return document.original_filename
    if key == "pages":
        first, last = document.page_from or 1, document.page_to or document.page_count
        return str(first) if first == last else f"{first}-{last}"
    created = document.created_at if document.created_at.tzinfo else document.created_at.replace(tzinfo=UTC)
    return created.astimezone(_JST).strftime("%Y/%m/%d %H:%M")


def _duplicates(
    results: list[FieldResult], document_id: str, specs: dict[str, FieldSpec]
) -> list[ExportProblem]:
    """Two non-empty values for one field in one document would need two rows: refuse instead of dropping one."""
    seen: dict[str, str] = {}
    problems = []
    for result in results:
        if not result.value or (
            result.value == "0"
            and specs.get(result.field_name) is not None
            and specs[result.field_name].type == "checkbox"
        ):
            continue
        if result.field_name in seen and seen[result.field_name] != result.value:
            label = specs[result.field_name].label if result.field_name in specs else result.field_name
            problems.append(
                ExportProblem(
                    document_id,
                    result.field_name,
                    label,
                    "1 つの文書に同じ項目が 2 ページ分あります（文書を分けてください）",
                )
            )
        seen.setdefault(result.field_name, result.value)
    return problems


def _documents(db: Session, *, form_code: str) -> list[Document]:
    form_ids = select(FormDefinition.id).where(FormDefinition.code == form_code)
    return list(
        db.scalars(
            select(Document)
            .where(
                # Unnamed uploads are identified page by page: the form is on the page.
                or_(
                    Document.form_id.in_(form_ids),
                    Document.id.in_(select(Page.document_id).where(Page.form_id.in_(form_ids))),
                ),
                Document.status.in_(EXPORTABLE),
            )
            .order_by(Document.created_at, Document.id)
        )
    )


def build_csv(
    db: Session,
    *,
    layout: FormLayout,
    documents: list[Document],
    encoding: ExportEncoding,
    extra: Sequence[str] = (),
) -> tuple[bytes, int]:
    """The file for ``documents`` (one row each, pages merged), or ExportError listing every problem.

    Nothing is dropped silently: a document holding one field twice with different values (which a
    single row cannot hold) stops the export with the document named.
    """
    profile = layout.export
    mapping = mapping_table(db) if profile.unrepresentable == "replace" else None
    columns = _columns(layout, profile) + [_Column(EXTRA_COLUMNS[key], None, "keep") for key in extra]
    specs = {spec.name: spec for spec in layout.fields}
    problems: list[ExportProblem] = []
    rows: list[list[str]] = []
    if "batch" in extra:
        open_document_names(db, documents)
    for document in documents:
        results = results_in_page_order(db, document_id=document.id, form_code=layout.code)
        problems.extend(_duplicates(results, document.id, specs))
        values = merged_values(results)
        extras = {EXTRA_COLUMNS[key]: _extra_value(key, document) for key in extra}
        row = []
        for column in columns:
            if column.spec is None and column.header in extras:
                cell, reasons = _cell(
                    extras[column.header], column=column, profile=profile, encoding=encoding, mapping=mapping
                )
                problems.extend(ExportProblem(document.id, "", column.header, r) for r in reasons)
                row.append(cell)
                continue
            raw = document.id if column.spec is None else values.get(column.spec.name, "")
            cell, reasons = _cell(raw, column=column, profile=profile, encoding=encoding, mapping=mapping)
            name, label = (column.spec.name, column.spec.label) if column.spec else ("", column.header)
            problems.extend(ExportProblem(document.id, name, label, r) for r in reasons)
            row.append(cell)
        rows.append(row)
    headers: list[str] = []
    for column in columns:
        header, reasons = _cell(
            column.header,
            column=_Column(column.header, None, "keep"),
            profile=profile,
            encoding=encoding,
            mapping=mapping,
        )
        problems.extend(ExportProblem("（見出し）", "", column.header, r) for r in reasons)
        headers.append(header)
    if problems:
        raise ExportError(problems)
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        lineterminator="\r\n" if profile.line_ending == "crlf" else "\n",
        quoting=csv.QUOTE_ALL if profile.quoting == "all" else csv.QUOTE_MINIMAL,
    )
    if profile.header_row:
        writer.writerow(headers)
    writer.writerows(rows)
    # strict: every character was checked above, so an encoding error here is a bug, not data loss.
    return buffer.getvalue().encode(encoding, errors="strict"), len(rows)


def export_confirmed_documents(
    db: Session,
    *,
    principal: Principal,
    form_code: str,
    encoding: ExportEncoding | None = None,
    extra: Sequence[str] = (),
    store: BlobStore | None = None,
) -> CsvExport:
    """Export every confirmed document of ``form_code`` in scope, mark them 出力済, audit who/what/how many.

    With ``store`` the file is kept (encrypted) as an :class:`ExportRecord` to be downloaded again.
    """
    unknown = [key for key in extra if key not in EXTRA_COLUMNS]
    if unknown:
        raise ExportError(
            [ExportProblem("", "", "", f"追加列 {'、'.join(unknown)} はありません")], code="unknown_column"
        )
    latest = get_latest_form(db, code=form_code)
    layout = layout_of(latest)
    chosen: ExportEncoding = encoding or layout.export.encoding
    documents = _documents(db, form_code=form_code)
    content, rows = build_csv(db, layout=layout, documents=documents, encoding=chosen, extra=extra)
    ids = [d.id for d in documents]
    if ids:
        now = utcnow()
        moved = [
            transition_document(
                db,
                document_id=document_id,
                from_statuses=EXPORTABLE,
                to_status=DocumentStatus.EXPORTED,
                exported_at=now,
            )
            for document_id in ids
        ]
        if not all(moved):
            db.rollback()
            raise ExportError(
                [ExportProblem("", "", "", "他の担当者が同時に出力しました。もう一度やり直してください。")],
                code="concurrent_export",
            )
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    filename = f"{form_code}_{stamp}.csv"
    media_type = f"text/csv; charset={CHARSETS[chosen]}"
    detail: dict[str, Any] = {
        "form": f"{latest.code}@v{latest.version}",
        "rows": rows,
        "encoding": chosen,
        "extra": list(extra),
        "documents": ids,
    }
    if store is not None:
        record_id = new_id()
        record = ExportRecord(
            id=record_id,
            org_id=principal.org_id,
            form_code=form_code,
            filename=filename,
            media_type=media_type,
            # Its own data key: retention can erase a kept export without touching anything else.
            blob_key=store.put(content, dek=create_document_key(db, document_id=export_key_owner(record_id))),
            rows=rows,
            created_by=principal.user_id,
            detail=detail,
        )
        db.add(record)
        db.flush()
        detail = {**detail, "export": record.id}
    audit(db, principal, "export.csv", obj_type="form", obj_id=form_code, form_code=form_code, detail=detail)
    db.commit()
    return CsvExport(
        content=content,
        rows=rows,
        document_ids=ids,
        filename=filename,
        encoding=chosen,
        media_type=media_type,
    )
