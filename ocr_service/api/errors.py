"""Framework-raised HTTP errors (unknown path, wrong method, unparsable body) in the house format.

Our own refusals already carry ``{"code", "message"}`` with a Japanese message; the ones
Starlette raises itself carry an English string. This gives those a stable code and a
Japanese message too, so no client ever has to parse English prose.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

_FRAMEWORK_ERRORS = {
    400: ("bad_request", "リクエストの形式が正しくありません。"),
    404: ("not_found", "見つかりません。"),
    405: ("method_not_allowed", "この操作はここでは使えません。"),
    406: ("not_acceptable", "この形式では応答できません。"),
    413: ("too_large", "送信データが大きすぎます。"),
    415: ("unsupported_media_type", "この形式のデータは受け付けません。"),
    429: ("too_many_requests", "リクエストが多すぎます。しばらくしてから再度お試しください。"),
}


async def framework_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Our structured details pass through; a bare English string becomes a code and a Japanese message."""
    if isinstance(exc.detail, str) and exc.status_code in _FRAMEWORK_ERRORS:
        code, message = _FRAMEWORK_ERRORS[exc.status_code]
        return JSONResponse(
            status_code=exc.status_code,
            content={"detail": {"code": code, "message": message}},
            headers=getattr(exc, "headers", None),
        )
    return await http_exception_handler(request, exc)
