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

import io
from dataclasses import dataclass, field

from pypdf import PdfReader, PdfWriter
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from ocr_service.audit.service import SYSTEM, audit
from ocr_service.db.base import new_id, utcnow
from ocr_service.documents.models import Batch, Document, FieldResult, Page
from ocr_service.documents.sealing import (
    open_document_names,
    open_field_results,
    open_read_value,
    seal_document_name,
    seal_field_value,
    seal_read_value,
)
from ocr_service.documents.service import DocumentNotFoundError
from ocr_service.documents.status import DocumentStatus, transition_document
from ocr_service.forms.models import FormDefinition
from ocr_service.keys.service import create_document_key, document_key, seal_text
from ocr_service.storage.blobs import BlobStore

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


def _pdf_pages(pdf: bytes, *, first: int, last: int) -> bytes:
    """Pages ``first``..``last`` (1-based) of ``pdf`` as a PDF of their own."""
    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter()
    for index in range(first - 1, last):
        writer.add_page(reader.pages[index])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _rekey(
    db: Session,
    *,
    store: BlobStore,
    source: Document,
    target: Document,
    pages: list[Page],
    superseded: list[str],
) -> None:
    """Move ``pages`` (with their files and values) from ``source`` to ``target`` under ``target``'s own key.

    Every document has its own data key (retention erases a document by destroying it), and sealed
    values are bound to their document: so the moved images, crops and values are re-encrypted,
    never shared. The old files are deleted by the caller once the split is committed.
    """
    old = document_key(db, document_id=source.id)
    new = create_document_key(db, document_id=target.id)
    for page in pages:
        for attr in ("image_blob_key", "aligned_blob_key"):
            key = getattr(page, attr)
            if key:
                setattr(page, attr, store.put(store.get(key, dek=old), dek=new))
                superseded.append(key)
        page.document_id = target.id
    page_ids = [page.id for page in pages]
    results = open_field_results(db, db.scalars(select(FieldResult).where(FieldResult.page_id.in_(page_ids))))
    for result in results:
        if result.crop_blob_key:
            superseded.append(result.crop_blob_key)
            result.crop_blob_key = store.put(store.get(result.crop_blob_key, dek=old), dek=new)
        value, reason = result.value, result.reason
        machine = open_read_value(db, result)
        result.value_sealed = seal_field_value(db, document_id=target.id, result_id=result.id, value=value)
        if machine is not None:
            result.read_value_sealed = seal_read_value(
                db, document_id=target.id, result_id=result.id, value=machine
            )
        if reason is not None:
            result.reason_sealed = seal_text(
                db, document_id=target.id, purpose=f"field_results.reason|{result.id}", value=reason
            )
        result.document_id = target.id
    target.original_filename_sealed = seal_document_name(
        db, document_id=target.id, name=source.original_filename
    )


def split_batch(
    db: Session, *, document_id: str, store: BlobStore, held: ColumnElement[bool] | None = None
) -> tuple[list[str], list[str]] | None:
    """Split the read document ``document_id`` (status processing) into its form instances.

    Moves pages and field results to new documents of the same batch (each with its own data key
    and a PDF of only its pages) and moves every document to 要確認 or 様式不明, all in the caller's
    transaction. Returns the ids of all documents (the original first) and the blob keys the
    split replaced (to delete after commit); None when ``held`` (the worker's lease) no longer
    holds the original document, and the caller rolls back. Idempotence comes from the status: only a document
    still in processing is split, and the caller commits the split and the status change together.
    """
    document = db.get(Document, document_id)
    assert document is not None
    open_document_names(db, [document])
    pages = list(db.scalars(select(Page).where(Page.document_id == document.id).order_by(Page.page_no)))
    slots = [
        PageSlot(page_no=p.page_no, status=p.status, form_id=p.form_id, layout_page=p.layout_page)
        for p in pages
    ]
    groups = group_pages(slots)
    by_no = {p.page_no: p for p in pages}
    superseded: list[str] = []
    batch_pdf = (
        store.get(document.blob_key, dek=document_key(db, document_id=document.id))
        if len(groups) > 1
        else b""
    )
    ids: list[str] = []
    for index, group in enumerate(groups):
        first, last = min(group.page_nos), max(group.page_nos)
        if index == 0:
            target = document
            if len(groups) > 1:
                # Keep only this document's pages: erasing it must not leave its siblings' pages behind.
                superseded.append(document.blob_key)
                document.blob_key = store.put(
                    _pdf_pages(batch_pdf, first=first, last=last),
                    dek=document_key(db, document_id=document.id),
                )
        else:
            target = Document(
                id=new_id(),
                org_id=document.org_id,
                uploaded_by=document.uploaded_by,
                sha256=document.sha256,
                size_bytes=document.size_bytes,
                page_count=len(group.page_nos),
                blob_key="",
                batch_id=document.batch_id,
                status=DocumentStatus.PROCESSING,
                attempts=document.attempts,
                # Received when the batch was: 受付日時, queue order and retention follow the upload.
                created_at=document.created_at,
            )
            db.add(target)
            db.flush()  # the row exists before its pages point at it
            _rekey(
                db,
                store=store,
                source=document,
                target=target,
                pages=[by_no[n] for n in group.page_nos],
                superseded=superseded,
            )
            target.blob_key = store.put(
                _pdf_pages(batch_pdf, first=first, last=last), dek=document_key(db, document_id=target.id)
            )
        if group.unidentified:
            # Nothing on these pages may reach an export until a person decides about them.
            for page_no in group.page_nos:
                by_no[page_no].form_id = None
        target.form_id = group.form_id
        target.page_count = len(group.page_nos)
        target.page_from = first
        target.page_to = last
        db.flush()
        moved = transition_document(
            db,
            document_id=target.id,
            from_statuses=(DocumentStatus.PROCESSING,),
            to_status=DocumentStatus.UNIDENTIFIED if group.unidentified else DocumentStatus.RECOGNIZED,
            condition=held if target is document else None,
            failure_reason=group.reason,
            lease_expires_at=None,
            lease_token=None,
            processed_at=utcnow(),
        )
        if not moved:
            return None
        ids.append(target.id)
    audit(
        db,
        SYSTEM,
        "batch.split",
        org_id=document.org_id,
        obj_type="batch",
        obj_id=document.batch_id or document.id,
        form_code="",
        detail={
            "documents": [
                {"id": i, "pages": g.page_nos, "form": g.form_id} for i, g in zip(ids, groups, strict=True)
            ]
        },
    )
    return ids, superseded


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
        open_document_names(db, [d for docs in documents.values() for d in docs])
    return [BatchView(batch=b, documents=documents[b.id]) for b in batches]


def get_batch(db: Session, *, batch_id: str) -> BatchView:
    batch = db.get(Batch, batch_id)
    if batch is None:
        raise DocumentNotFoundError(batch_id)
    documents = open_document_names(
        db, db.scalars(select(Document).where(Document.batch_id == batch.id).order_by(Document.page_from))
    )
    return BatchView(batch=batch, documents=documents)


def form_titles(db: Session) -> dict[str, str]:
    """Form version id → title, for every version in scope (documents may name older versions)."""
    return {form_id: title for form_id, title in db.execute(select(FormDefinition.id, FormDefinition.title))}
