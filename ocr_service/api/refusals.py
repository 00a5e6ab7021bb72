"""Refused requests are audit events too: every 4xx answer (401/403/404, cross-organisation probes,
and requests refused for their state or input: 409/413/422).

A probe for another organisation's document answers 404 exactly like a missing id (so it reveals
nothing), and it is recorded here with who asked, from where and for what.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from ocr_service.api.deps import Runtime
from ocr_service.audit.service import AuditPrincipal, audit, current_ip
from ocr_service.auth.service import Principal

_NOT_RECORDED = ("/static/", "/healthz", "/favicon.ico")


def _refused_status(request: Request, response: Response) -> int | None:
    if 400 <= response.status_code < 500:
        return response.status_code
    # Screens answer a signed-out visitor with a redirect to the login page instead of 401.
    location = response.headers.get("location", "")
    if response.status_code == 303 and location.startswith("/login?next="):
        return 401
    return None


def _record(
    runtime: Runtime, *, principal: AuditPrincipal, method: str, path: str, status: int, ip: str
) -> None:
    with runtime.session_factory() as db:
        audit(
            db,
            principal,
            "request.refused",
            obj_type="route",
            obj_id=path[:64],
            form_code="",
            detail={"method": method, "path": path[:300], "status": status},
            ip=ip,
        )
        db.commit()


def install_request_auditing(app: FastAPI) -> None:
    @app.middleware("http")
    async def audit_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        ip = request.client.host if request.client else ""
        token = current_ip.set(ip)
        try:
            response = await call_next(request)
        finally:
            current_ip.reset(token)
        status = _refused_status(request, response)
        if status is not None and not request.url.path.startswith(_NOT_RECORDED):
            found = getattr(request.state, "principal", None)
            principal = found if isinstance(found, Principal) else None
            runtime: Runtime = request.app.state.runtime
            await run_in_threadpool(
                _record,
                runtime,
                principal=principal,
                method=request.method,
                path=request.url.path,
                status=status,
                ip=ip,
            )
        return response
