"""Documents of ``personal_data`` forms are invisible to sessions whose terminal is not on a
個人情報系 network (吹田市: personal-data work only from the 住民情報系 network).

Registered with the org-scoping mechanism (db/scoping.py), so every query on documents, pages,
field results, blind entries and kept exports is filtered the same way, present routes and future ones alike.
Sub-selects use Core tables so the loader criteria do not filter them too.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import QueryableAttribute

from ocr_service.db.scoping import guard_personal_data
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.export.models import ExportRecord
from ocr_service.forms.models import FormDefinition
from ocr_service.review.models import BlindEntry

_documents = Document.__table__
_pages = Page.__table__
_forms = FormDefinition.__table__


def _visible(column: QueryableAttribute[str]) -> ColumnElement[bool]:
    personal_forms = select(_forms.c.id).where(_forms.c.personal_data.is_(True))
    by_document = select(_documents.c.id).where(_documents.c.form_id.in_(personal_forms))
    by_page = select(_pages.c.document_id).where(_pages.c.form_id.in_(personal_forms))
    return column.not_in(by_document.union(by_page))


guard_personal_data(Document, lambda: _visible(Document.id))
guard_personal_data(Page, lambda: _visible(Page.document_id))
guard_personal_data(FieldResult, lambda: _visible(FieldResult.document_id))
guard_personal_data(BlindEntry, lambda: _visible(BlindEntry.document_id))


def _export_visible() -> ColumnElement[bool]:
    # A kept CSV of a personal_data form holds the same values as its documents.
    personal_codes = select(_forms.c.code).where(
        _forms.c.personal_data.is_(True), _forms.c.org_id == ExportRecord.org_id
    )
    return ExportRecord.form_code.not_in(personal_codes)


guard_personal_data(ExportRecord, _export_visible)
