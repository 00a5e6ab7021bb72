"""Acceptance 4: the usage report (利用状況報告) for a month matches the events the test produced."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ocr_service.audit import service as audit_service
from ocr_service.audit.service import SystemPrincipal, audit
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.documents.models import Document
from ocr_service.documents.processing import ensure_pages, mark_recognized
from ocr_service.documents.status import DocumentStatus
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.reports.render import usage_csv, usage_pdf
from ocr_service.reports.usage import ReportError, build_usage_report, month_bounds
from ocr_service.storage.blobs import BlobStore
from tests.factories import login, make_form, make_org, make_user, pdf_bytes
from tests.helpers import make_recognized_document


def categorised_layout() -> LayoutSource:
    layout = FormLayout.model_validate(
        {
            "code": "jumin",
            "title": "住民票交付申請書",
            "fields": [
                {"name": "name", "label": "氏名", "box": [100, 100, 300, 130], "category": "氏名"},
                {"name": "address", "label": "住所", "box": [100, 140, 500, 170], "category": "住所"},
                {
                    "name": "kojin",
                    "label": "個人番号",
                    "box": [100, 180, 300, 200],
                    "type": "digits",
                    "category": "個人番号",
                },
                {"name": "agree", "label": "同意", "box": [100, 210, 115, 225], "type": "checkbox"},
            ],
        }
    )
    return LayoutSource(layout=layout, template_pdf=pdf_bytes(), origin=Path("test"))


def _identified_by_worker(db: Session, *, document_id: str, form_id: str) -> None:
    """What the worker leaves: pages read as the identified form, then the document recognised."""
    set_scope(db, SYSTEM_SCOPE)
    document = db.get_one(Document, document_id)
    for page in ensure_pages(db, document=document, layout_pages=document.page_count):
        page.form_id = form_id
    document.status = DocumentStatus.PROCESSING
    db.flush()
    mark_recognized(db, document_id=document_id)


def _at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(audit_service, "clock", lambda: moment)


def test_usage_report_matches_the_months_events(
    client: TestClient, db: Session, store: BlobStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """GIVEN in 2026-11: two uploads (1 + 2 pages) of a form with 氏名・住所・個人番号 fields, one document
    confirmed and exported, one deletion with its certificate; and one upload in October
    WHEN the November report is built THEN it counts exactly the November events."""
    org, other = make_org(db, "市民課"), make_org(db, "税務課")
    operator = make_user(db, org, role="operator", username="scan-1")
    reviewer = make_user(db, org, role="reviewer", username="check-1")
    make_user(db, org, role="reviewer", username="idle-1")
    make_user(db, other, role="admin", username="other-admin")
    form = make_form(db, org, store, categorised_layout())
    ready = make_recognized_document(
        db,
        user=reviewer,
        form=form,
        store=store,
        values={"name": "山田", "address": "東山市1-1", "kojin": "123456789018", "agree": True},
    )
    db.commit()

    _at(monkeypatch, datetime(2026, 10, 30, 1, 0, tzinfo=UTC))
    login(client, operator)
    data = {"form_code": "jumin"}
    assert (
        client.post(
            "/api/v1/documents",
            files={"file": ("a.pdf", pdf_bytes(text="october"), "application/pdf")},
            data=data,
        ).status_code
        == 201
    )

    _at(monkeypatch, datetime(2026, 11, 4, 1, 0, tzinfo=UTC))
    for pages in (1, 2):
        response = client.post(
            "/api/v1/documents",
            files={"file": ("a.pdf", pdf_bytes(pages, text=f"november {pages}"), "application/pdf")},
            data=data,
        )
        assert response.status_code == 201
    # An upload that names no form: the worker identifies both pages as 'jumin'.
    unnamed = client.post(
        "/api/v1/documents", files={"file": ("b.pdf", pdf_bytes(2, text="unnamed"), "application/pdf")}
    )
    assert unnamed.status_code == 201
    _identified_by_worker(db, document_id=unnamed.json()["id"], form_id=form.id)
    _at(monkeypatch, datetime(2026, 11, 5, 2, 0, tzinfo=UTC))
    login(client, reviewer)
    assert client.get(f"/api/v1/documents/{ready.id}").status_code == 200
    assert client.post(f"/api/v1/review/documents/{ready.id}/confirm").status_code == 200
    assert client.post("/api/v1/forms/jumin/export.csv").headers["x-export-rows"] == "1"
    _at(monkeypatch, datetime(2026, 11, 30, 14, 59, tzinfo=UTC))  # 2026-11-30 23:59 JST: still November
    audit(
        db,
        SystemPrincipal("retention"),
        "retention.certificate_issued",
        obj_type="deletion_certificate",
        obj_id="DC-2026-0001",
        org_id=org.id,
        detail={"trigger": "schedule", "documents": [ready.id]},
    )
    _at(monkeypatch, datetime(2026, 11, 30, 15, 0, tzinfo=UTC))  # 2026-12-01 00:00 JST: December
    audit(
        db,
        SystemPrincipal("retention"),
        "retention.certificate_issued",
        obj_id="DC-DEC",
        org_id=org.id,
        detail={"trigger": "schedule", "documents": ["x" * 32]},
    )
    db.commit()

    report = build_usage_report(db, org=org, month="2026-11")

    (jumin,) = report.forms
    assert (jumin.code, jumin.title, jumin.documents, jumin.pages) == ("jumin", "住民票交付申請書", 3, 5)
    assert (jumin.confirmed, jumin.exported_documents, jumin.views) == (1, 1, 1)
    assert dict(report.items) == {"氏名": 3, "住所": 3, "個人番号": 3}
    assert (report.exports, report.export_rows) == (1, 1)
    assert [(d.document_id, d.certificate_id) for d in report.deletions] == [(ready.id, "DC-2026-0001")]
    accounts = {a.username: a for a in report.accounts}
    assert set(accounts) == {"scan-1", "check-1", "idle-1"}  # the other organisation's admin is not listed
    assert accounts["idle-1"].last_used is None and accounts["idle-1"].events_in_month == 0
    assert accounts["check-1"].events_in_month >= 4  # login, view, confirm, export
    assert accounts["scan-1"].last_used is not None

    text = usage_csv(report).decode("cp932")
    assert "jumin,住民票交付申請書,3,5,1,1,1" in text and "DC-2026-0001" in text and "DC-DEC" not in text
    assert "個人番号,3" in text and "\r\n" in text
    pdf = usage_pdf(report)
    (tmp_path / "r.pdf").write_bytes(pdf)
    extracted = subprocess.run(
        ["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "利用状況報告" in extracted and "DC-2026-0001" in extracted and "市民課" in extracted


def test_month_bounds_are_jst_and_bad_months_are_refused() -> None:
    start, end = month_bounds("2026-12")
    assert start.isoformat() == "2026-12-01T00:00:00+09:00" and end.isoformat() == "2027-01-01T00:00:00+09:00"
    with pytest.raises(ReportError):
        month_bounds("2026-13")
