"""The worker reads a document through the same loop as ``process``, the evaluations and the benchmarks.

Runs the real ingest function on PostgreSQL with the real page pipeline; only the OCR model is
replaced, since which layout page each scan is read as (and what is stored) is under test here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Page
from ocr_service.documents.processing import ensure_pages
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.storage.blobs import BlobStore
from tests.factories import make_form, make_org, make_user, pdf_bytes
from tests.helpers import new_document
from tests.pipeline.conftest import FIELDS, make_template_pdf
from tests.support.backs import render_blank_back_pdf
from tests.support.fakes import FixedReader
from tests.support.render import render_filled_multi_pdf
from workers.ingest import run_ingest
from workers.pipeline.document import MISSING_TEMPLATE_REASON, ReadAgainst, process_pdf, read_pdf
from workers.pipeline.identify import candidates_for
from workers.pipeline.page import PagePipeline
from workers.pipeline.types import FieldReading, PageReading
from workers.runtime import WorkerRuntime

DPI = 150


def _runtime(
    settings: Settings, session_factory: sessionmaker[Session], store: BlobStore, pipeline: object
) -> WorkerRuntime:
    return WorkerRuntime(
        # A long lease: its heartbeat thread must not share this test's single connection mid-ingest.
        settings=settings.model_copy(update={"raster_dpi": DPI, "lease_ttl_s": 600}),
        session_factory=session_factory,
        store=store,
        pipeline=pipeline,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("named", [True, False], ids=["named", "unnamed"])
def test_the_worker_reads_an_upload_exactly_as_the_offline_readers_do(
    named: bool, db: Session, session_factory: sessionmaker[Session], store: BlobStore, settings: Settings
) -> None:
    """GIVEN a form whose layout claims 2 pages but whose template has only 1, and an upload of
    sheet, blank back, sheet, sheet, uploaded for that form (named) or without a form (unnamed)
    WHEN the worker ingests it, and process_pdf (named) or read_pdf with the form's candidates (unnamed)
    reads the same PDF
    THEN every page is stored with the status, layout page and reason the offline reader reports:
    named, the blank back uses up no layout page and the sheet shown as the missing template page is
    'unaligned' with the Japanese reason (not a failed document); unnamed, every sheet is the form's page 1."""
    layout = FormLayout.model_validate({"code": "two", "title": "二枚様式", "pages": 2, "fields": FIELDS})
    template = make_template_pdf(pages=1)
    org = make_org(db)
    form = make_form(db, org, store, LayoutSource(layout=layout, template_pdf=template, origin=Path("t")))
    user = make_user(db, org, role="operator")
    sheet = make_template_pdf(filled={"name": "山田太郎"})
    pdf = render_filled_multi_pdf([sheet, render_blank_back_pdf(dpi=DPI), sheet, sheet])
    document = new_document(
        db, store=store, name="a.pdf", data=pdf, org_id=org.id, uploaded_by=user.id, page_count=4,
        form_id=form.id if named else None, page_from=1, page_to=4, status="queued",
    )  # fmt: skip
    db.commit()
    pipeline = PagePipeline(FixedReader("1"), dpi=DPI)

    assert run_ingest(document_id=document.id, runtime=_runtime(settings, session_factory, store, pipeline)) == (
        "recognized"
    )

    against: ReadAgainst = candidates_for(key=form.id, layout=layout, template_pdf=template, dpi=DPI)
    offline = (
        process_pdf(pdf, layout=layout, template_pdf=template, recognizer=FixedReader("1"), dpi=DPI)
        if named
        else read_pdf(pdf, against, pipeline=pipeline)
    )
    set_scope(db, SYSTEM_SCOPE)
    db.expire_all()
    stored = list(db.scalars(select(Page).where(Page.org_id == org.id).order_by(Page.page_no)))
    # An identified blank page names no layout page: its row keeps the one it was created with (1).
    assert [(p.page_no, p.status, p.layout_page, p.reason) for p in stored] == [
        (r.page_no, r.status, r.layout_page or 1, r.reason) for r in offline
    ]
    if named:
        assert [(p.status, p.layout_page) for p in stored] == [("ok", 1), ("blank", 2), ("unaligned", 2), ("ok", 1)]
        assert stored[2].reason == MISSING_TEMPLATE_REASON
    else:
        assert [p.status for p in stored] == ["ok", "blank", "ok", "ok"]
        assert [p.form_id for p in stored] == [form.id, None, form.id, form.id]


class _Recording:
    """Stands in for the page pipeline: every sheet aligns; remembers which pages it was asked to read."""

    dpi = DPI

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []

    def process_page(
        self, image: object, *, layout: FormLayout, layout_page: int, page_no: int, template_image: object
    ) -> PageReading:
        self.asked.append((page_no, layout_page))
        fields = [FieldReading(name=f.name, value="x", confidence=0.99) for f in layout.fields_on_page(layout_page)]
        return PageReading(page_no=page_no, status="ok", fields=fields)


def test_a_retried_document_reads_only_the_pages_not_stored_yet(
    db: Session, session_factory: sessionmaker[Session], store: BlobStore, settings: Settings
) -> None:
    """GIVEN a 4-page upload for a 2-page form whose pages 1 (layout page 1) and 2 (a blank back)
    were stored before the worker died
    WHEN another worker ingests it
    THEN only pages 3 and 4 are read, page 3 as layout page 2 (the stored blank used none up),
    and every page ends up stored."""
    layout = FormLayout.model_validate(
        {
            "code": "two",
            "title": "二枚様式",
            "pages": 2,
            "fields": [
                {"name": f"name{n}", "label": f"氏名{n}", "box": [100, 100, 300, 130], "page": n} for n in (1, 2)
            ],
        }
    )
    org = make_org(db)
    form = make_form(db, org, store, LayoutSource(layout=layout, template_pdf=pdf_bytes(2), origin=Path("t")))
    user = make_user(db, org, role="operator")
    document = new_document(
        db, store=store, name="a.pdf", data=pdf_bytes(4), org_id=org.id, uploaded_by=user.id, page_count=4,
        form_id=form.id, page_from=1, page_to=4, status="queued",
    )  # fmt: skip
    first, back, *_ = ensure_pages(db, document=document, layout_pages=2)
    first.status, back.status, back.layout_page = "ok", "blank", 2
    db.commit()
    stand_in = _Recording()

    assert run_ingest(document_id=document.id, runtime=_runtime(settings, session_factory, store, stand_in)) == (
        "recognized"
    )

    assert stand_in.asked == [(3, 2), (4, 1)]
    db.expire_all()
    stored = list(db.scalars(select(Page).where(Page.org_id == org.id).order_by(Page.page_no)))
    assert [(p.status, p.layout_page) for p in stored] == [("ok", 1), ("blank", 2), ("ok", 2), ("ok", 1)]
