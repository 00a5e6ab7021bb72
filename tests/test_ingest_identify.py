"""Uploads that name no form: every page is identified among the organisation's published forms.

Runs the real upload route and the real ingest function on PostgreSQL; only the OCR model is
replaced (a recorder at the process boundary of the recogniser), since identification,
alignment and storage are under test here, not text recognition.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.auth.service import Principal
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, OrgScope, set_scope
from ocr_service.documents.models import Document, FieldResult, Page
from ocr_service.documents.sealing import open_field_results
from ocr_service.documents.status import DocumentStatus, transition_document
from ocr_service.export.service import export_confirmed_documents
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import login, make_form, make_org, make_user
from tests.pipeline.conftest import (
    FIELDS,
    SECOND_FIELDS,
    make_second_template_pdf,
    make_template_pdf,
    make_unknown_template_pdf,
)
from tests.support.backs import render_blank_back_pdf
from tests.support.fakes import FixedReader
from tests.support.render import render_filled_multi_pdf, render_filled_pdf
from workers.ingest import run_ingest
from workers.pipeline.page import PagePipeline
from workers.runtime import WorkerRuntime

DPI = 150


def _sources() -> tuple[LayoutSource, LayoutSource]:
    first = FormLayout.model_validate({"code": "juminhyo_test", "title": "住民票請求", "fields": FIELDS})
    second = FormLayout.model_validate({"code": "monshin_test", "title": "問診票", "fields": SECOND_FIELDS})
    return (
        LayoutSource(layout=first, template_pdf=make_template_pdf(), origin=Path("a")),
        LayoutSource(layout=second, template_pdf=make_second_template_pdf(), origin=Path("b")),
    )


def test_unnamed_upload_is_identified_page_by_page_and_each_page_records_its_form(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    store: LocalBlobStore,
    settings: Settings,
    enqueued: list[str],
) -> None:
    """GIVEN an organisation with two published forms and a PDF of form B, a blank back, form A
    (upside down) and an unregistered form, uploaded WITHOUT a form code
    WHEN the worker ingests it
    THEN the upload is accepted with no document form, each page stores the exact form version it was
    read with and its score, the back is blank, the unknown page is unidentified with a Japanese reason
    and no field results; the batch is split into B (with its back), A and a 様式不明 document,
    and the CSV export of form A finds A's document only."""
    source_a, source_b = _sources()
    org = make_org(db)
    form_a = make_form(db, org, store, source_a)
    form_b = make_form(db, org, store, source_b)
    operator = make_user(db, org, role="operator")
    db.commit()
    login(client, operator)
    pdf = render_filled_multi_pdf(
        [
            render_filled_pdf(
                template_pdf=source_b.template_pdf, layout=source_b.layout, values={"era": "昭和"}, dpi=DPI
            ),
            render_blank_back_pdf(template_pdf=source_b.template_pdf, dpi=DPI),
            render_filled_pdf(
                template_pdf=source_a.template_pdf,
                layout=source_a.layout,
                values={"postal": "1234567", "agree": True},
                dpi=DPI,
                upside_down=True,
            ),
            render_filled_pdf(
                template_pdf=make_unknown_template_pdf(), layout=source_a.layout, values={}, dpi=DPI
            ),
        ]
    )
    response = client.post("/api/v1/documents", files={"file": ("mixed.pdf", pdf, "application/pdf")})
    assert response.status_code == 201, response.text
    document_id = response.json()["id"]
    batch_id = response.json()["batch_id"]
    assert response.json()["form_id"] is None and enqueued == [document_id] and batch_id

    runtime = WorkerRuntime(
        # A long lease: its heartbeat thread must not share this test's single connection mid-ingest.
        settings=settings.model_copy(update={"raster_dpi": DPI, "lease_ttl_s": 600}),
        session_factory=session_factory,
        store=store,
        pipeline=PagePipeline(FixedReader("1234567"), dpi=DPI),
    )
    assert run_ingest(document_id=document_id, runtime=runtime) == "recognized"

    set_scope(db, SYSTEM_SCOPE)
    db.expire_all()
    pages = list(
        db.scalars(select(Page).join(Document).where(Document.batch_id == batch_id).order_by(Page.page_no))
    )
    assert [p.status for p in pages] == ["ok", "blank", "ok", "unidentified"]
    assert [p.form_id for p in pages] == [form_b.id, None, form_a.id, None]
    assert pages[0].identify_score is not None and pages[0].identify_score > 0.8
    assert pages[3].reason and "様式" in pages[3].reason
    # Aligned pages keep the upright warped image the pipeline read; the unread page has none.
    assert pages[2].aligned_blob_key and pages[0].aligned_blob_key and pages[3].aligned_blob_key is None
    results = {(r.page_id, r.field_name): r.value for r in open_field_results(db, db.scalars(select(FieldResult)))}
    assert results[(pages[0].id, "era")] == "昭和"
    assert results[(pages[2].id, "agree")] == "1" and results[(pages[2].id, "postal")] == "1234567"
    assert not any(page_id == pages[3].id for page_id, _ in results)
    # One document per form instance: B with its blank back, A, and the unknown page as 様式不明.
    documents = list(
        db.scalars(select(Document).where(Document.batch_id == batch_id).order_by(Document.page_from))
    )
    assert [(d.page_from, d.page_to, d.form_id, d.status) for d in documents] == [
        (1, 2, form_b.id, DocumentStatus.RECOGNIZED),
        (3, 3, form_a.id, DocumentStatus.RECOGNIZED),
        (4, 4, None, DocumentStatus.UNIDENTIFIED),
    ]
    assert documents[0].id == document_id
    assert {d.created_at for d in documents} == {documents[0].created_at}  # 受付日時 is the upload's
    assert {p.document_id for p in pages[:2]} == {document_id}
    assert all(
        r.document_id == p.document_id
        for p in pages
        for r in db.scalars(select(FieldResult).where(FieldResult.page_id == p.id))
    )

    set_scope(db, OrgScope(org.id))
    transition_document(
        db,
        document_id=documents[1].id,
        from_statuses=(DocumentStatus.RECOGNIZED,),
        to_status=DocumentStatus.CONFIRMED,
    )
    db.flush()
    reviewer = Principal(user_id=operator.id, org_id=org.id, role="reviewer", username=operator.username)
    export = export_confirmed_documents(db, principal=reviewer, form_code="juminhyo_test", encoding="utf-8")
    assert export.rows == 1 and export.document_ids == [documents[1].id]
    content = export.content.decode("utf-8")
    # Only form A's page feeds form A's row: form B's 昭和 is not in it.
    assert "1234567" in content and "昭和" not in content


def test_upload_without_form_code_is_refused_when_the_org_has_no_forms(
    client: TestClient, db: Session, enqueued: list[str]
) -> None:
    """GIVEN an organisation without published forms WHEN a PDF is uploaded without a form code
    THEN it is refused with a Japanese reason and nothing is queued."""
    org = make_org(db)
    operator = make_user(db, org, role="operator")
    db.commit()
    login(client, operator)
    pdf = render_blank_back_pdf(dpi=72)
    response = client.post("/api/v1/documents", files={"file": ("x.pdf", pdf, "application/pdf")})
    assert 400 <= response.status_code < 500 and "様式" in response.text
    assert enqueued == []
