"""HTTP answers for review and export errors (Japanese messages for staff)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ocr_service.export.mappings import MappingError
from ocr_service.export.service import ExportError
from ocr_service.review.pages import templates
from ocr_service.review.service import (
    ConfirmBlockedError,
    ReviewConflictError,
    ReviewStateError,
    UnseenFieldsError,
)


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReviewConflictError)
    detail = {
        "code": "version_conflict",
        "message": str(exc),
        "current": {"id": exc.field_result_id, "value": exc.current_value, "version": exc.current_version},
    }
    return JSONResponse(status_code=409, content={"detail": detail})


async def _state(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReviewStateError)
    if not request.url.path.startswith("/api/"):
        # A screen (e.g. the first reviewer opening the blind entry) gets a page, not JSON.
        return templates.TemplateResponse(
            request, "review/error.html", {"message": exc.message}, status_code=409
        )
    return JSONResponse(status_code=409, content={"detail": {"code": exc.code, "message": exc.message}})


async def _blocked(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConfirmBlockedError)
    problems = [{"field": p.field_name, "label": p.label, "reason": p.reason} for p in exc.problems]
    message = "確認できない項目があります：" + "、".join(f"{p.label}（{p.reason}）" for p in exc.problems)
    detail = {"code": "confirm_blocked", "message": message, "problems": problems}
    return JSONResponse(status_code=422, content={"detail": detail})


async def _unseen(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnseenFieldsError)
    fields = [
        {"id": r.id, "field": r.field_name, "label": label}
        for r, label in zip(exc.unseen, exc.labels, strict=True)
    ]
    detail = {"code": "unseen_fields", "message": str(exc), "fields": fields}
    return JSONResponse(status_code=422, content={"detail": detail})


async def _export(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ExportError)
    problems = [
        {"document": p.document_id, "field": p.field_name, "label": p.label, "reason": p.reason}
        for p in exc.problems
    ]
    status_code = 409 if exc.code == "concurrent_export" else 422
    detail = {"code": exc.code, "message": str(exc), "problems": problems}
    return JSONResponse(status_code=status_code, content={"detail": detail})


async def _mapping(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MappingError)
    status_code = 404 if exc.code == "not_found" else 422
    return JSONResponse(
        status_code=status_code, content={"detail": {"code": exc.code, "message": exc.message}}
    )


def install_review_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ReviewConflictError, _conflict)
    app.add_exception_handler(ReviewStateError, _state)
    app.add_exception_handler(ConfirmBlockedError, _blocked)
    app.add_exception_handler(UnseenFieldsError, _unseen)
    app.add_exception_handler(ExportError, _export)
    app.add_exception_handler(MappingError, _mapping)
