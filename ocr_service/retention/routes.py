"""Manual early deletion (staff) and deletion certificates (admins): JSON API and the admin page."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from ocr_service.admin.nav import register_nav
from ocr_service.admin.pages import render_admin
from ocr_service.api.deps import AdminCtx, ReviewerCtx
from ocr_service.documents.service import DocumentNotFoundError
from ocr_service.retention.models import DeletionCertificate
from ocr_service.retention.pdf import certificate_pdf
from ocr_service.retention.service import erase_document_now
from ocr_service.signing import public_key_pem

router = APIRouter(tags=["retention"])
pages_router = APIRouter(include_in_schema=False)


class EraseIn(BaseModel):
    reason: str = Field(
        min_length=1, max_length=200, description="Why the document is deleted early (no personal data)"
    )


class EraseOut(BaseModel):
    document_id: str
    certificate_id: str


class CertificateOut(BaseModel):
    id: str
    issued_at: str
    trigger: str
    document_count: int


@router.post("/documents/{document_id}/erase", response_model=EraseOut)
def erase_document(document_id: str, body: EraseIn, ctx: ReviewerCtx) -> EraseOut:
    """Delete a document now (after export, or a wrong upload): crypto-erase plus a certificate."""
    certificate = erase_document_now(
        ctx.db,
        settings=ctx.runtime.settings,
        principal=ctx.principal,
        document_id=document_id,
        reason=body.reason,
        store=ctx.runtime.store,
    )
    return EraseOut(document_id=document_id, certificate_id=certificate.id)


def _certificates(ctx: AdminCtx) -> list[DeletionCertificate]:
    return list(
        ctx.db.scalars(select(DeletionCertificate).order_by(DeletionCertificate.issued_at.desc()).limit(500))
    )


def _certificate(ctx: AdminCtx, certificate_id: str, *, fmt: str) -> DeletionCertificate:
    certificate = ctx.db.get(DeletionCertificate, certificate_id)
    if certificate is None:
        raise DocumentNotFoundError(certificate_id)
    ctx.record_view(
        "retention.certificate_download",
        obj_type="deletion_certificate",
        obj_id=certificate.id,
        detail={"format": fmt},
    )
    return certificate


@router.get("/retention/certificates", response_model=list[CertificateOut])
def list_certificates(ctx: AdminCtx) -> list[CertificateOut]:
    ctx.record_view("retention.certificate_list")
    return [
        CertificateOut(
            id=c.id, issued_at=c.issued_at.isoformat(), trigger=c.trigger, document_count=c.document_count
        )
        for c in _certificates(ctx)
    ]


@router.get("/retention/certificates/{certificate_id}.json", response_class=Response)
def download_certificate_json(certificate_id: str, ctx: AdminCtx) -> Response:
    certificate = _certificate(ctx, certificate_id, fmt="json")
    return Response(
        certificate.document_json.encode("utf-8"),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="deletion-certificate-{certificate.id}.json"'},
    )


@router.get("/retention/certificates/{certificate_id}.pdf", response_class=Response)
def download_certificate_pdf(certificate_id: str, ctx: AdminCtx) -> Response:
    certificate = _certificate(ctx, certificate_id, fmt="pdf")
    return Response(
        certificate_pdf(certificate.document_json),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="deletion-certificate-{certificate.id}.pdf"'},
    )


@router.get("/retention/public-key", response_class=Response)
def signing_public_key(ctx: AdminCtx) -> Response:
    """The installation's Ed25519 public key: anyone holding it can check a certificate."""
    ctx.record_view("retention.public_key_view")
    return Response(public_key_pem(ctx.runtime.settings), media_type="application/x-pem-file")


register_nav("/admin/retention", "削除証明書", role="admin", order=50)


@pages_router.get("/admin/retention", response_class=HTMLResponse)
def certificates_page(request: Request, ctx: AdminCtx) -> Response:
    ctx.record_view("retention.certificates_view")
    context = {
        "certificates": _certificates(ctx),
        "retention_days": ctx.runtime.settings.retention_days,
    }
    return render_admin(request, ctx, "admin/retention.html", context)
