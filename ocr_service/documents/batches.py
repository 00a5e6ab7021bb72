"""Scanner batches: one uploaded PDF split into one document per filled-in form instance.

A scanner room feeds a stack of forms in any order, with blank backs and turned pages,
as one PDF. After every page was read (identified, aligned or not), :func:`group_pages`
cuts the page sequence into form instances:

* a page read as layout page 1 starts a new document;
* a page read as layout page k > 1 continues the current document when that one is the
  same form version and its last read page was k - 1 (otherwise it starts its own);
* a blank page belongs to the document before it (a blank back); blanks before the first
  read page go to the document after them;
* a page that could not be identified or aligned becomes its own 様式不明 document that a
  person must resolve (assign a form, mark 対象外, or delete);
* a batch of blank pages only is one 様式不明 document: nothing vanishes unseen.

:func:`split_batch` applies the grouping: the first group keeps the uploaded document's id
(so clients that polled it keep working), every further group becomes a new document of
the same batch. Pages keep their batch page numbers, so a page range names the scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ocr_service.audit.service import record_audit_event
from ocr_service.db.base import utcnow
from ocr_service.documents.models import Batch, Document, FieldResult, Page
from ocr_service.documents.service import DocumentNotFoundError
from ocr_service.documents.status import DocumentStatus, transition_document
from ocr_service.forms.models import FormDefinition

BLANK_ONLY_REASON = "白紙のページだけでした。内容を確認して、対象外にするか削除してください。"
UNREAD_REASON = "様式を特定できませんでした。様式を指定して読み直すか、対象外・削除を選んでください。"


@dataclass(frozen=True)
class PageSlot:
    """What grouping needs to know about one read page."""

    page_no: int
    status: str
    """Page status from the pipeline: ok, blank, unidentified, unaligned, failed or pending."""
    form_id: str | None = None
    layout_page: int = 1


@dataclass
class PageGroup:
    """The pages of one future document."""

    form_id: str | None
    """None: a 様式不明 group."""
    page_nos: list[int] = field(default_factory=list)
    last_layout_page: int = 0
    reason: str | None = None

    @property
    def unidentified(self) -> bool:
        return self.form_id is None


def group_pages(slots: list[PageSlot]) -> list[PageGroup]:
    """Cut a batch's pages (in scan order) into form instances; every page lands in exactly one group."""
    groups: list[PageGroup] = []
    leading_blanks: list[int] = []
    current: PageGroup | None = None
    for slot in sorted(slots, key=lambda s: s.page_no):
        if slot.status == "blank":
            if current is None:
                leading_blanks.append(slot.page_no)
            else:
                current.page_nos.append(slot.page_no)
            continue
        if slot.status == "ok" and slot.form_id is not None:
            continues = (
                current is not None
                and current.form_id == slot.form_id
                and slot.layout_page > 1
                and current.last_layout_page == slot.layout_page - 1
            )
            if not continues or current is None:
                current = PageGroup(form_id=slot.form_id)
                groups.append(current)
            current.page_nos.append(slot.page_no)
            current.last_layout_page = slot.layout_page
        else:
            current = PageGroup(form_id=None, page_nos=[slot.page_no], reason=UNREAD_REASON)
            groups.append(current)
    if leading_blanks:
        if groups:
            groups[0].page_nos[:0] = leading_blanks
        else:
            groups.append(PageGroup(form_id=None, page_nos=leading_blanks, reason=BLANK_ONLY_REASON))
    return groups


def split_batch(db: Session, *, document_id: str) -> list[str]:
    """Split the read document ``document_id`` (status processing) into its form instances.

    Moves pages and field results to new documents of the same batch and moves every
    document to 要確認 or 様式不明, all in the caller's transaction. Returns the ids of all
    documents, the original first. Idempotence comes from the status: only a document still
    in processing is split, and the caller commits the split and the status change together.
    """
    document = db.get(Document, document_id)
    assert document is not None
    pages = list(db.scalars(select(Page).where(Page.document_id == document.id).order_by(Page.page_no)))
    slots = [
        PageSlot(page_no=p.page_no, status=p.status, form_id=p.form_id, layout_page=p.layout_page)
        for p in pages
    ]
    groups = group_pages(slots)
    by_no = {p.page_no: p for p in pages}
    ids: list[str] = []
    for index, group in enumerate(groups):
        if index == 0:
            target = document
        else:
            target = Document(
                org_id=document.org_id,
                uploaded_by=document.uploaded_by,
                original_filename=document.original_filename,
                sha256=document.sha256,
                size_bytes=document.size_bytes,
                page_count=len(group.page_nos),
                blob_key=document.blob_key,
                batch_id=document.batch_id,
                status=DocumentStatus.PROCESSING,
                attempts=document.attempts,
                # Received when the batch was: 受付日時, queue order and retention follow the upload.
                created_at=document.created_at,
            )
            db.add(target)
            db.flush()
            db.execute(
                update(Page)
                .where(Page.document_id == document.id, Page.page_no.in_(group.page_nos))
                .values(document_id=target.id)
                .execution_options(synchronize_session=False)
            )
            moved = [by_no[n].id for n in group.page_nos]
            db.execute(
                update(FieldResult)
                .where(FieldResult.page_id.in_(moved))
                .values(document_id=target.id)
                .execution_options(synchronize_session=False)
            )
        if group.unidentified:
            # Nothing on these pages may reach an export until a person decides about them.
            for page_no in group.page_nos:
                by_no[page_no].form_id = None
        target.form_id = group.form_id
        target.page_count = len(group.page_nos)
        target.page_from = min(group.page_nos)
        target.page_to = max(group.page_nos)
        db.flush()
        transition_document(
            db,
            document_id=target.id,
            from_statuses=(DocumentStatus.PROCESSING,),
            to_status=DocumentStatus.UNIDENTIFIED if group.unidentified else DocumentStatus.RECOGNIZED,
            failure_reason=group.reason,
            lease_expires_at=None,
            processed_at=utcnow(),
        )
        ids.append(target.id)
    record_audit_event(
        db,
        action="batch.split",
        org_id=document.org_id,
        user_id=None,
        object_type="batch",
        object_id=document.batch_id or document.id,
        detail={
            "documents": [
                {"id": i, "pages": g.page_nos, "form": g.form_id} for i, g in zip(ids, groups, strict=True)
            ]
        },
    )
    return ids


@dataclass(frozen=True)
class BatchView:
    """A batch with the documents it produced (page order): what the 受付状況 screen lists."""

    batch: Batch
    documents: list[Document]


def list_batches(db: Session, *, limit: int = 50, offset: int = 0) -> list[BatchView]:
    """The organisation's batches, newest first, each with its documents (no field values)."""
    batches = list(
        db.scalars(select(Batch).order_by(Batch.created_at.desc(), Batch.id).limit(limit).offset(offset))
    )
    documents: dict[str, list[Document]] = {b.id: [] for b in batches}
    if batches:
        for document in db.scalars(
            select(Document)
            .where(Document.batch_id.in_(list(documents)))
            .order_by(Document.page_from, Document.created_at)
        ):
            documents[document.batch_id or ""].append(document)
    return [BatchView(batch=b, documents=documents[b.id]) for b in batches]


def get_batch(db: Session, *, batch_id: str) -> BatchView:
    batch = db.get(Batch, batch_id)
    if batch is None:
        raise DocumentNotFoundError(batch_id)
    documents = list(
        db.scalars(select(Document).where(Document.batch_id == batch.id).order_by(Document.page_from))
    )
    return BatchView(batch=batch, documents=documents)


def form_titles(db: Session) -> dict[str, str]:
    """Form version id → title, for every version in scope (documents may name older versions)."""
    return {form_id: title for form_id, title in db.execute(select(FormDefinition.id, FormDefinition.title))}
