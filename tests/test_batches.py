"""Scanner batches: splitting into form instances, 様式不明 documents, and an export that loses nothing.

The property-style tests generate many random batches (forms in random order, multi-page forms,
blank backs, turned pages, unidentifiable pages) from a seeded generator, so a failure names
its seed and can be replayed.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.audit.models import AuditEvent
from ocr_service.auth.models import User
from ocr_service.auth.service import Principal
from ocr_service.config import Settings
from ocr_service.db.scoping import SYSTEM_SCOPE, OrgScope, set_scope
from ocr_service.documents.batches import PageSlot, group_pages
from ocr_service.documents.models import Batch, Document, FieldResult, Page
from ocr_service.documents.processing import ensure_pages, finish_reading, save_page_reading
from ocr_service.documents.sealing import open_field_results
from ocr_service.documents.status import DocumentStatus
from ocr_service.export.service import export_confirmed_documents
from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import LayoutSource
from ocr_service.forms.models import FormDefinition
from ocr_service.forms.service import layout_of
from ocr_service.review.service import confirm_document, edit_field
from ocr_service.storage.blobs import BlobStore
from tests.factories import login, make_form, make_org, make_user, pdf_bytes
from tests.helpers import new_document, png
from workers.ingest import run_ingest
from workers.pipeline.types import FieldReading, PageReading
from workers.runtime import WorkerRuntime

SEEDS = range(12)


@dataclass
class Instance:
    """One filled-in form in the generated batch: which form, its pages in the batch."""

    form: str
    pages: list[int] = field(default_factory=list)


def _generate(
    rng: random.Random, layout_pages: dict[str, int]
) -> tuple[list[PageSlot], list[Instance], list[int]]:
    """A random batch: the truth (form instances, unidentifiable pages) and the slots a reader reports."""
    slots: list[PageSlot] = []
    instances: list[Instance] = []
    unknown: list[int] = []
    page_no = 0
    for _ in range(rng.randint(1, 7)):
        kind = rng.choice([*layout_pages, "unknown"])
        if kind == "unknown":
            page_no += 1
            slots.append(PageSlot(page_no=page_no, status=rng.choice(["unidentified", "unaligned"])))
            unknown.append(page_no)
            continue
        instance = Instance(form=kind)
        for layout_page in range(1, layout_pages[kind] + 1):
            page_no += 1
            slots.append(PageSlot(page_no=page_no, status="ok", form_id=kind, layout_page=layout_page))
            instance.pages.append(page_no)
            if rng.random() < 0.3:  # a blank back after this page
                page_no += 1
                slots.append(PageSlot(page_no=page_no, status="blank"))
        instances.append(instance)
    return slots, instances, unknown


def test_group_pages_recovers_every_form_instance_of_random_batches() -> None:
    """GIVEN 300 random batches of 1- and 3-page forms, blank backs and unknown pages
    WHEN grouped THEN every page is in exactly one group, each form instance is one group with its pages
    (and the blank backs after them), and each unknown page starts its own 様式不明 group."""
    for seed in range(300):
        rng = random.Random(seed)
        slots, instances, unknown = _generate(rng, {"A": 1, "B": 3})
        groups = group_pages(slots)
        pages = [n for g in groups for n in g.page_nos]
        assert sorted(pages) == [s.page_no for s in slots], seed
        read = [g for g in groups if not g.unidentified]
        assert [(g.form_id, [n for n in g.page_nos if n in _read_pages(slots)]) for g in read] == [
            (i.form, i.pages) for i in instances
        ], seed
        assert sorted(g.page_nos[0] for g in groups if g.unidentified) == unknown, seed


def _read_pages(slots: list[PageSlot]) -> set[int]:
    return {s.page_no for s in slots if s.status == "ok"}


def test_blank_only_batch_is_one_unidentified_group_and_leading_blanks_join_the_first_form() -> None:
    """GIVEN only blank pages THEN one 様式不明 group (a person decides); GIVEN blanks before a form
    THEN they join that form's group: nothing is left without a document."""
    (only,) = group_pages([PageSlot(1, "blank"), PageSlot(2, "blank")])
    assert only.unidentified and only.page_nos == [1, 2] and only.reason and "白紙" in only.reason
    (first,) = group_pages([PageSlot(1, "blank"), PageSlot(2, "ok", "A", 1)])
    assert first.form_id == "A" and first.page_nos == [1, 2]
    # A page 2 without its page 1 is still its own document (never glued to an unrelated form).
    groups = group_pages([PageSlot(1, "ok", "B", 1), PageSlot(2, "ok", "A", 1), PageSlot(3, "ok", "B", 2)])
    assert [g.page_nos for g in groups] == [[1], [2], [3]]


def _layout(code: str, pages: int) -> LayoutSource:
    fields = []
    for page in range(1, pages + 1):
        fields += [
            {"name": f"name{page}", "label": f"氏名{page}", "box": [100, 100, 300, 130], "page": page},
            {"name": f"note{page}", "label": f"備考{page}", "box": [100, 150, 300, 180], "page": page},
        ]
    layout = FormLayout.model_validate(
        {"code": code, "title": f"様式{code}", "pages": pages, "fields": fields}
    )
    return LayoutSource(layout=layout, template_pdf=pdf_bytes(pages), origin=Path("test"))


def _ingest_generated_batch(
    db: Session, *, seed: int, user: User, forms: dict[str, FormDefinition], store: BlobStore
) -> tuple[Batch, dict[int, dict[str, str]], list[int]]:
    """Store a generated batch as the worker would (per page readings), then split it.

    Returns the batch, the values written on every identified page (unique per page, so a row
    can be traced back), and the unidentifiable pages.
    """
    rng, tag = random.Random(seed), f"S{seed}"
    layout_pages = {code: layout_of(form).pages for code, form in forms.items()}
    slots, _instances, unknown = _generate(rng, layout_pages)
    set_scope(db, SYSTEM_SCOPE)
    data = pdf_bytes(len(slots))
    batch = Batch(
        org_id=user.org_id,
        uploaded_by=user.id,
        sha256="0" * 64,
        size_bytes=len(data),
        page_count=len(slots),
    )
    db.add(batch)
    db.flush()
    document = new_document(
        db,
        store=store,
        name="batch.pdf",
        data=data,
        org_id=user.org_id,
        uploaded_by=user.id,
        page_count=len(slots),
        batch_id=batch.id,
        page_from=1,
        page_to=len(slots),
        status=DocumentStatus.PROCESSING,
    )
    db.flush()
    pages = ensure_pages(db, document=document, layout_pages=1)
    written: dict[int, dict[str, str]] = {}
    for page, slot in zip(pages, slots, strict=True):
        if slot.status == "ok":
            assert slot.form_id is not None
            values = {
                f"name{slot.layout_page}": f"{tag}P{slot.page_no}氏名",
                f"note{slot.layout_page}": f"{tag}P{slot.page_no}備考",
            }
            written[slot.page_no] = values
            reading = PageReading(
                page_no=slot.page_no,
                status="ok",
                inliers=100,
                residual_px=1.0,
                form_key=forms[slot.form_id].id,
                layout_page=slot.layout_page,
                identify_score=0.9,
                orientation=rng.choice([0, 180]),
                aligned_png=png(60, 80),
                fields=[
                    FieldReading(
                        name=k, value=v, confidence=rng.choice([0.5, 0.99]), crop_png=png(), status="ok"
                    )
                    for k, v in values.items()
                ],
            )
        else:
            reading = PageReading(page_no=slot.page_no, status=slot.status, reason="読めません")  # type: ignore[arg-type]
        save_page_reading(db, page=page, reading=reading, page_png=png(60, 80), store=store)
    finish_reading(db, document_id=document.id, store=store)
    return batch, written, unknown


def test_random_batches_after_review_and_export_lose_and_duplicate_nothing(
    db: Session, store: BlobStore
) -> None:
    """GIVEN random batches (a 1-page and a 2-page form in random order, blank backs, turned pages,
    unidentifiable pages) stored and split as the worker does
    WHEN a reviewer accepts every flagged field and confirms every 要確認 document, and both forms are exported
    THEN every identified page's values are in exactly one CSV row (of the right form, with its page range),
    and every unidentifiable page is in a 様式不明 document of its own batch."""
    org = make_org(db)
    reviewer_user = make_user(db, org)
    forms = {"a": make_form(db, org, store, _layout("a", 1)), "b": make_form(db, org, store, _layout("b", 2))}
    principal = Principal(
        user_id=reviewer_user.id, org_id=org.id, role="reviewer", username=reviewer_user.username
    )
    expected: dict[str, tuple[str, int]] = {}  # value → (form code, page no)
    unknown_pages: list[tuple[str, int]] = []
    for seed in SEEDS:
        batch, written, unknown = _ingest_generated_batch(
            db, seed=seed, user=reviewer_user, forms=forms, store=store
        )
        documents = {d.id: d for d in db.scalars(select(Document).where(Document.batch_id == batch.id))}
        form_code_of = {f.id: code for code, f in forms.items()}
        for page in db.scalars(select(Page).where(Page.document_id.in_(list(documents)))):
            if page.page_no in written:
                code = form_code_of[documents[page.document_id].form_id or ""]
                for value in written[page.page_no].values():
                    expected[value] = (code, page.page_no)
        set_scope(db, OrgScope(org.id))
        for document in documents.values():
            if document.status != DocumentStatus.RECOGNIZED:
                continue
            for result in open_field_results(
                db, db.scalars(select(FieldResult).where(FieldResult.document_id == document.id))
            ):
                edit_field(
                    db,
                    principal=principal,
                    document_id=document.id,
                    field_result_id=result.id,
                    value=result.value,
                    expected_version=result.version,
                )
            confirm_document(db, principal=principal, threshold=0.95, document_id=document.id)
        set_scope(db, SYSTEM_SCOPE)
        for page_no in unknown:
            holder = db.scalar(
                select(Document)
                .join(Page, Page.document_id == Document.id)
                .where(Document.batch_id == batch.id, Page.page_no == page_no)
            )
            assert holder is not None and holder.status == DocumentStatus.UNIDENTIFIED, (seed, page_no)
            assert holder.page_from == page_no and holder.form_id is None, (seed, page_no)
            unknown_pages.append((batch.id, page_no))
    assert expected and unknown_pages  # the generator produced both kinds

    set_scope(db, OrgScope(org.id))
    seen: dict[str, list[tuple[str, str]]] = {}
    for code in ("a", "b"):
        export = export_confirmed_documents(
            db, principal=principal, form_code=code, encoding="utf-8", extra=["pages"]
        )
        rows = list(csv.reader(io.StringIO(export.content.decode("utf-8"))))
        for row in rows[1:]:
            for cell in row[1:-1]:
                if cell:
                    seen.setdefault(cell, []).append((code, row[-1]))
    for value, (code, page_no) in expected.items():
        assert value in seen, f"{value} (page {page_no}) missing from every CSV"
        assert len(seen[value]) == 1, f"{value} exported {len(seen[value])} times"
        got_code, page_range = seen[value][0]
        first, _, last = page_range.partition("-")
        assert got_code == code and int(first) <= page_no <= int(last or first), (value, seen[value])
    assert set(seen) == set(expected)  # and nothing appeared that was not written


def _unidentified_document(db: Session, *, user: User, store: BlobStore) -> Document:
    """A one-page batch whose page no form matched, split as the worker does: a 様式不明 document."""
    set_scope(db, SYSTEM_SCOPE)
    data = pdf_bytes()
    document = new_document(
        db,
        store=store,
        name="unknown.pdf",
        data=data,
        org_id=user.org_id,
        uploaded_by=user.id,
        page_count=1,
        status=DocumentStatus.PROCESSING,
    )
    (page,) = ensure_pages(db, document=document, layout_pages=1)
    reading = PageReading(page_no=1, status="unidentified", reason="どの様式とも一致しません")
    save_page_reading(db, page=page, reading=reading, page_png=png(60, 80), store=store)
    finish_reading(db, document_id=document.id, store=store)
    db.refresh(document)
    return document


def test_unidentified_document_is_shown_and_resolved_only_by_a_person(
    client: TestClient, db: Session, store: BlobStore, enqueued: list[str]
) -> None:
    """GIVEN three 様式不明 documents WHEN the reviewer opens one THEN a page (not JSON) offers the forms;
    assigning a form queues it again for reading with that form; 対象外 needs a reason; delete removes the
    document the way retention does (crypto-erase, deletion certificate); each is audited."""
    org = make_org(db)
    user = make_user(db, org)
    form = make_form(db, org, store)
    docs = [_unidentified_document(db, user=user, store=store) for _ in range(3)]
    assert all(d.status == DocumentStatus.UNIDENTIFIED and d.failure_reason for d in docs)
    db.commit()
    login(client, user)
    screen = client.get(f"/review/documents/{docs[0].id}")
    assert screen.status_code == 200 and "様式不明" in screen.text and form.title in screen.text
    queue = client.get("/review?group=様式不明").text
    assert all(d.id in queue for d in docs)

    base = "/api/v1/review/documents"
    assigned = client.post(f"{base}/{docs[0].id}/assign-form", json={"form_code": "simple"})
    assert assigned.status_code == 200 and assigned.json()["status"] == "queued"
    assert enqueued == [docs[0].id]
    set_scope(db, SYSTEM_SCOPE)
    db.expire_all()
    page = db.scalar(select(Page).where(Page.document_id == docs[0].id))
    assert page is not None and page.status == "pending" and page.form_id == form.id
    assert db.get_one(Document, docs[0].id).form_id == form.id

    no_reason = client.post(f"{base}/{docs[1].id}/exclude", json={"reason": " "})
    assert no_reason.status_code == 409 and no_reason.json()["detail"]["code"] == "reason_required"
    excluded = client.post(f"{base}/{docs[1].id}/exclude", json={"reason": "他課の書類"})
    assert excluded.json()["status"] == "excluded"

    image = client.get(f"/api/v1/documents/{docs[2].id}/pages/1/image?view=raw")
    assert image.status_code == 200
    deleted = client.post(f"{base}/{docs[2].id}/delete", json={"reason": "白紙の誤投入"})
    assert deleted.json()["status"] == "deleted" and deleted.json()["certificate_id"]
    # Crypto-erased like retention does it: the page is gone (410), a second delete finds nothing to do.
    assert client.get(f"/api/v1/documents/{docs[2].id}/pages/1/image?view=raw").status_code == 410
    again = client.post(f"{base}/{docs[2].id}/delete", json={"reason": ""})
    assert again.status_code in (409, 410)
    ids = [d.id for d in docs]
    db.expire_all()
    actions = {
        e.action: e.object_id for e in db.scalars(select(AuditEvent).where(AuditEvent.object_id.in_(ids)))
    }
    assert actions["document.assign_form"] == ids[0]
    assert actions["document.exclude"] == ids[1]
    assert actions["document.delete"] == ids[2] and actions["document.erase"] == ids[2]


class _BlankSecondSheet:
    """Stands in for the page pipeline: sheet 2 of the scan is a blank back, every other sheet aligns."""

    dpi = 50
    """The document loop rasterises at the pipeline's dpi."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []

    def process_page(
        self, image: object, *, layout: FormLayout, layout_page: int, page_no: int, template_image: object
    ) -> PageReading:
        self.asked.append((page_no, layout_page))
        if page_no == 2:
            return PageReading(page_no=page_no, status="blank", reason="白紙")
        fields = [
            FieldReading(name=f.name, value=f"P{page_no}", confidence=0.99, status="ok")
            for f in layout.fields_on_page(layout_page)
        ]
        return PageReading(page_no=page_no, status="ok", layout_page=layout_page, fields=fields)


def test_named_two_page_form_with_a_blank_back_stays_one_document_per_instance(
    db: Session, session_factory: sessionmaker[Session], store: BlobStore, settings: Settings
) -> None:
    """GIVEN an upload named as a 2-page form: sheet 1, a blank back, sheet 2, then a second filled form
    WHEN ingested THEN the blank back does not use up layout page 2 (sheet 3 is read as page 2) and the
    batch becomes two documents: pages 1-3 and 4-5."""
    org = make_org(db)
    user = make_user(db, org, role="operator")
    form = make_form(db, org, store, _layout("two", 2))
    set_scope(db, SYSTEM_SCOPE)
    data = pdf_bytes(5)
    document = new_document(
        db,
        store=store,
        name="two.pdf",
        data=data,
        org_id=org.id,
        form_id=form.id,
        uploaded_by=user.id,
        page_count=5,
        page_from=1,
        page_to=5,
    )
    db.commit()
    stand_in = _BlankSecondSheet()
    runtime = WorkerRuntime(
        settings=settings.model_copy(update={"raster_dpi": 50}),
        session_factory=session_factory,
        store=store,
        pipeline=stand_in,  # type: ignore[arg-type]
    )
    assert run_ingest(document_id=document.id, runtime=runtime) == "recognized"
    assert stand_in.asked == [(1, 1), (2, 2), (3, 2), (4, 1), (5, 2)]
    db.expire_all()
    split = list(db.scalars(select(Document).where(Document.sha256 == "0" * 64, Document.org_id == org.id)))
    assert sorted((d.page_from, d.page_to, d.status) for d in split) == [
        (1, 3, DocumentStatus.RECOGNIZED),
        (4, 5, DocumentStatus.RECOGNIZED),
    ]
