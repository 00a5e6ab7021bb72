"""The document lifecycle: one enum, one conditional transition helper."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ocr_service.documents.models import Document
from ocr_service.documents.status import DocumentStatus, status_label, transition_document
from tests.factories import make_org, make_user


def test_given_a_document_in_another_state_when_transitioning_then_nothing_changes(db: Session) -> None:
    """GIVEN a queued document WHEN asked to move recognized → confirmed THEN it refuses and stays queued;
    WHEN asked queued → processing THEN exactly one of two racing calls wins."""
    org = make_org(db)
    operator = make_user(db, org, role="operator")
    document = Document(
        org_id=org.id,
        uploaded_by=operator.id,
        sha256="0" * 64,
        size_bytes=1,
        page_count=1,
        blob_key="k",
    )
    db.add(document)
    db.commit()
    assert document.status == DocumentStatus.QUEUED
    assert not transition_document(
        db,
        document_id=document.id,
        from_statuses=(DocumentStatus.RECOGNIZED,),
        to_status=DocumentStatus.CONFIRMED,
    )
    first = transition_document(
        db,
        document_id=document.id,
        from_statuses=(DocumentStatus.QUEUED,),
        to_status=DocumentStatus.PROCESSING,
        attempts=5,
    )
    second = transition_document(
        db,
        document_id=document.id,
        from_statuses=(DocumentStatus.QUEUED,),
        to_status=DocumentStatus.PROCESSING,
    )
    db.commit()
    db.refresh(document)
    assert (first, second) == (True, False)
    assert document.status == DocumentStatus.PROCESSING and document.attempts == 5


def test_every_status_has_a_japanese_label() -> None:
    assert {status_label(s) for s in DocumentStatus} >= {"様式不明", "対象外", "削除済", "要確認"}
    assert all(status_label(s) != s.value for s in DocumentStatus)
    assert status_label("something-old") == "something-old"
