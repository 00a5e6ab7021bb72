"""Typed dependencies. ``authorized(role)`` is the one gate every protected route goes through."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session, sessionmaker

from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal, resolve_api_token, resolve_login_session
from ocr_service.config import Settings
from ocr_service.db.scoping import OrgScope, set_scope
from ocr_service.documents.service import Enqueue
from ocr_service.documents.uploads import UploadGate
from ocr_service.storage.blobs import BlobStore

Probe = Callable[[], None]
"""Raises when a dependency (database, broker, storage) cannot be used now; for ``/readyz``."""


@dataclass
class Runtime:
    """Process-wide objects, built once in :func:`ocr_service.api.app.create_app`."""

    settings: Settings
    session_factory: sessionmaker[Session]
    store: BlobStore
    enqueue: Enqueue
    upload_gate: UploadGate
    probes: dict[str, Probe]


@dataclass(frozen=True)
class RequestContext:
    """What an authorised handler gets: the caller and a session scoped to the caller's organisation."""

    principal: Principal
    db: Session
    runtime: Runtime

    def record_view(self, action: str, **target: Any) -> None:
        """Audit a read (list, screen, image) and commit it: reads of personal data are events too."""
        audit(self.db, self.principal, action, **target)
        self.db.commit()


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_unscoped_db(runtime: RuntimeDep) -> Iterator[Session]:
    """A session without an org scope: it can read accounts and sessions but no organisation data."""
    with runtime.session_factory() as db:
        yield db


UnscopedDb = Annotated[Session, Depends(get_unscoped_db)]


def _resolve_principal(request: Request, db: Session, runtime: Runtime) -> Principal | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        principal = resolve_api_token(db, raw_token=header[7:].strip())
        db.commit()  # keeps last_used_at
        return principal
    cookie = request.cookies.get(runtime.settings.session_cookie_name)
    if cookie:
        return resolve_login_session(db, raw_session_id=cookie)
    return None


def authorized(minimum_role: str) -> Callable[..., Iterator[RequestContext]]:
    """Build the dependency for a route that needs at least ``minimum_role``."""

    def dependency(request: Request, runtime: RuntimeDep) -> Iterator[RequestContext]:
        with runtime.session_factory() as db:
            principal = _resolve_principal(request, db, runtime)
            # The refusal recorder (api/refusals.py) names who was refused, if anyone signed in.
            request.state.principal = principal
            if principal is None:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    detail={"code": "not_authenticated", "message": "ログインしてください。"},
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if not principal.has_role(minimum_role):
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    detail={"code": "forbidden", "message": "この操作を行う権限がありません。"},
                )
            set_scope(db, OrgScope(principal.org_id))
            yield RequestContext(principal=principal, db=db, runtime=runtime)

    return dependency


def machine_authorized() -> Callable[..., Iterator[RequestContext]]:
    """Like ``authorized("operator")``, but only for a bearer (machine) token, never a browser session:
    the scanner bridge's endpoints are not for people."""
    inner = authorized("operator")

    def dependency(request: Request, runtime: RuntimeDep) -> Iterator[RequestContext]:
        bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
        if not bearer and request.cookies.get(runtime.settings.session_cookie_name):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail={"code": "machine_token_required", "message": "この操作には機械用トークンが必要です。"},
            )
        yield from inner(request, runtime)

    return dependency


SignedInCtx = Annotated[RequestContext, Depends(authorized("any"))]
OperatorCtx = Annotated[RequestContext, Depends(authorized("operator"))]
MachineCtx = Annotated[RequestContext, Depends(machine_authorized())]
ReviewerCtx = Annotated[RequestContext, Depends(authorized("reviewer"))]
AdminCtx = Annotated[RequestContext, Depends(authorized("admin"))]
AuditorCtx = Annotated[RequestContext, Depends(authorized("auditor"))]
"""The log review: admins and 監査担当 (auditor)."""
