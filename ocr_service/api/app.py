"""FastAPI application factory."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.admin.pages import router as admin_pages_router
from ocr_service.admin.routes import install_admin_error_handlers
from ocr_service.admin.routes import router as admin_router
from ocr_service.api.deps import Runtime
from ocr_service.api.docs import install_offline_docs
from ocr_service.api.health import default_probes, install_health_routes
from ocr_service.api.refusals import install_request_auditing
from ocr_service.api.security import SecurityMiddleware
from ocr_service.audit.routes import csv_router as audit_csv_router
from ocr_service.audit.routes import router as audit_router
from ocr_service.auth.pages import router as account_pages_router
from ocr_service.auth.routes import router as auth_router
from ocr_service.bridges.routes import pages as bridge_pages_router
from ocr_service.bridges.routes import router as bridges_router
from ocr_service.config import Settings, get_settings
from ocr_service.db.base import make_engine, make_session_factory
from ocr_service.db.scoping import ScopeError
from ocr_service.documents.pages import router as operator_pages_router
from ocr_service.documents.pdfcheck import PdfRejectedError
from ocr_service.documents.routes import batches_router
from ocr_service.documents.routes import router as documents_router
from ocr_service.documents.service import DocumentErasedError, DocumentNotFoundError, Enqueue, UploadError
from ocr_service.documents.uploads import UploadGate
from ocr_service.export.routes import router as export_router
from ocr_service.forms.editor_routes import api as form_drafts_router
from ocr_service.forms.editor_routes import forms_api as admin_forms_router
from ocr_service.forms.editor_routes import pages as form_editor_pages
from ocr_service.forms.routes import router as forms_router
from ocr_service.forms.service import FormNotFoundError
from ocr_service.keys.kek import UnknownKekError
from ocr_service.keys.service import KeyErasedError, Keys, session_info
from ocr_service.retention.routes import pages_router as retention_pages_router
from ocr_service.retention.routes import router as retention_router
from ocr_service.retention.service import erased_message
from ocr_service.review.errors import install_review_error_handlers
from ocr_service.review.pages import PACKAGE_DIR, install_login_redirect, screen_error, templates
from ocr_service.review.pages import router as review_pages_router
from ocr_service.review.routes import router as review_router
from ocr_service.storage.blobs import BlobNotFoundError, BlobStore, blob_store_from_settings

logger = logging.getLogger(__name__)


def _error(status_code: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"detail": {"code": code, "message": message}})


def _install_error_handlers(app: FastAPI) -> None:
    # Missing and foreign look the same on purpose: a 404 never says "exists, but not yours".
    async def not_found(request: Request, _exc: Exception) -> Response:
        if not request.url.path.startswith("/api/"):
            # A screen answers with a page a person can read, never raw JSON.
            return screen_error(request, "見つかりません。", status.HTTP_404_NOT_FOUND)
        return _error(status.HTTP_404_NOT_FOUND, "not_found", "見つかりません。")

    async def pdf_rejected(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PdfRejectedError)
        code = status.HTTP_413_CONTENT_TOO_LARGE if exc.code == "too_large" else 422
        return _error(code, exc.code, exc.reason)

    async def upload_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UploadError)
        response = _error(exc.status, exc.code, exc.reason)
        if exc.status == status.HTTP_429_TOO_MANY_REQUESTS:
            response.headers["Retry-After"] = "5"
        return response

    async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's default answer quotes the offending ``input`` (an uploaded file's bytes, a
        # password): only where and what kind of problem, never the value.
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": list(err.get("loc", ())), "type": str(err.get("type", ""))} for err in exc.errors()]
        return JSONResponse(
            status_code=422,
            content={
                "detail": {
                    "code": "invalid_request",
                    "message": "リクエストの内容が正しくありません。入力項目を確認してください。",
                    "errors": errors,
                }
            },
        )

    async def scope_error(_request: Request, exc: Exception) -> JSONResponse:
        logger.warning("scope violation refused: %s", exc)
        return _error(status.HTTP_404_NOT_FOUND, "not_found", "見つかりません。")

    async def erased(request: Request, exc: Exception) -> Response:
        message = erased_message(exc)
        if not request.url.path.startswith("/api/"):
            return templates.TemplateResponse(
                request, "review/erased.html", {"message": message}, status_code=410
            )
        return _error(status.HTTP_410_GONE, "erased", message)

    async def key_missing(_request: Request, exc: Exception) -> JSONResponse:
        # A data key wrapped by a KEK this process does not have: a configuration problem, not a bug.
        logger.error("storage key not configured: %s", exc)
        return _error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "storage_key_missing",
            "暗号鍵の設定が変更されたため、この文書を開けません。管理者は以前の OCR_STORAGE_KEY を "
            "OCR_STORAGE_KEYS_OLD に設定し、ocr-service keys rotate を実行してください。",
        )

    app.add_exception_handler(UnknownKekError, key_missing)
    app.add_exception_handler(DocumentErasedError, erased)
    app.add_exception_handler(KeyErasedError, erased)
    for exc_type in (DocumentNotFoundError, FormNotFoundError, BlobNotFoundError):
        app.add_exception_handler(exc_type, not_found)
    app.add_exception_handler(PdfRejectedError, pdf_rejected)
    app.add_exception_handler(UploadError, upload_error)
    app.add_exception_handler(ScopeError, scope_error)
    app.add_exception_handler(RequestValidationError, invalid_request)


def celery_enqueue(document_id: str) -> None:
    """Send the ingest task by name, so the API process never imports OCR code."""
    from workers.celery_app import celery_app

    celery_app.send_task("workers.tasks.ingest", args=[document_id])


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    store: BlobStore | None = None,
    enqueue: Enqueue | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="OCR Service",
        version="0.1.0",
        description="Japanese municipal form AI-OCR (offline). 自治体向け帳票 AI-OCR。",
        openapi_url="/api/v1/openapi.json",
        # Swagger UI is served from the installed swagger-ui-py package (api/docs.py), never a CDN.
        docs_url=None,
        redoc_url=None,
    )
    session_factory = session_factory or make_session_factory(
        make_engine(settings.resolved_database_url), info=session_info(Keys.from_settings(settings))
    )
    store = store or blob_store_from_settings(settings)
    app.state.runtime = Runtime(
        settings=settings,
        session_factory=session_factory,
        store=store,
        enqueue=enqueue or celery_enqueue,
        upload_gate=UploadGate(threads=settings.upload_concurrency, budget_s=settings.upload_time_budget_s),
        probes=default_probes(settings, session_factory=session_factory, store=store),
    )
    api = APIRouter(prefix="/api/v1")
    for router in (
        auth_router,
        documents_router,
        batches_router,
        forms_router,
        export_router,
        review_router,
        retention_router,
        admin_router,
        bridges_router,
        form_drafts_router,
        admin_forms_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(review_pages_router)
    app.include_router(operator_pages_router)
    app.include_router(audit_router)
    app.include_router(audit_csv_router)
    app.include_router(retention_pages_router)
    app.include_router(admin_pages_router)
    app.include_router(account_pages_router)
    install_offline_docs(app)
    app.include_router(bridge_pages_router)
    app.include_router(form_editor_pages)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")

    install_health_routes(app)
    _install_error_handlers(app)
    install_review_error_handlers(app)
    install_admin_error_handlers(app)
    install_login_redirect(app)
    app.add_middleware(
        SecurityMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie=settings.session_cookie_name,
        public_origins=settings.public_origins,
    )
    # Outermost: a request the security middleware refuses (CSRF, foreign Origin) is recorded too.
    install_request_auditing(app)
    return app
