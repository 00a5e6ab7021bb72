"""The one call every audited action goes through: ``audit(db, principal, action, …)``.

Who acted comes from the principal: a signed-in user or API token (:class:`Principal`), the
command line (:class:`CliPrincipal`, with the OS user), a scheduled job (:class:`SystemPrincipal`)
or nobody yet (``None``: a failed login, a refused anonymous request). The event joins the
caller's transaction, so it commits (or rolls back) with the action it records.
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from ocr_service.audit.chain import append_event
from ocr_service.audit.models import AuditEvent
from ocr_service.auth.service import Principal

logger = logging.getLogger(__name__)

# The client address of the request being served (set by the API middleware).
current_ip: ContextVar[str] = ContextVar("audit_current_ip", default="")
# Event time source; tests replace it to produce events at chosen times (off-hours …).
clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


@dataclass(frozen=True)
class SystemPrincipal:
    """A scheduled or background job (beat, worker)."""

    name: str = "system"
    org_id: int | None = None
    user_id: None = None

    @property
    def actor(self) -> str:
        return self.name


@dataclass(frozen=True)
class CliPrincipal:
    """An administrator at the server's command line; the OS account is who did it."""

    os_user: str
    org_id: int | None = None
    user_id: None = None

    @property
    def actor(self) -> str:
        return f"cli:{self.os_user}"


AuditPrincipal = Principal | SystemPrincipal | CliPrincipal | None
SYSTEM = SystemPrincipal()


def cli_principal() -> CliPrincipal:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return CliPrincipal(os_user=user[:100])


def actor_of(principal: AuditPrincipal) -> str:
    if principal is None:
        return "anonymous"
    if isinstance(principal, Principal):
        return principal.username
    return principal.actor


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    # Round trip once, so what is hashed now is exactly what the JSON column gives back later.
    loaded: dict[str, Any] = json.loads(json.dumps(value, ensure_ascii=False, default=str))
    return loaded


def _form_of_document(db: Session, document_id: str) -> str:
    from ocr_service.db.scoping import get_scope
    from ocr_service.documents.models import Document
    from ocr_service.forms.models import FormDefinition

    if get_scope(db) is None:
        return ""
    document = db.get(Document, document_id)
    if document is None or document.form_id is None:
        return ""
    form = db.get(FormDefinition, document.form_id)
    return form.code if form is not None else ""


def event_values(
    db: Session,
    principal: AuditPrincipal,
    action: str,
    *,
    obj_type: str = "",
    obj_id: str = "",
    detail: dict[str, Any] | None = None,
    personal: dict[str, Any] | None = None,
    document_id: str | None = None,
    form_code: str | None = None,
    org_id: int | None = None,
    ip: str | None = None,
) -> dict[str, Any]:
    detail = dict(detail or {})
    if personal:
        # Sealed with the document's own key (documents/sealing.py): unreadable once the document is
        # erased, while the ciphertext, and so every hash of the chain, stays as it was.
        if document_id is None:
            raise ValueError("personal values need the document whose key seals them")
        from ocr_service.documents.sealing import AUDIT_SEALED_KEY, sealed_audit_values

        detail[AUDIT_SEALED_KEY] = sealed_audit_values(
            db, document_id=document_id, action=action, values=personal
        )
    if form_code is None:
        form_code = _form_of_document(db, document_id) if document_id else ""
    return {
        "created_at": clock(),
        "org_id": org_id if org_id is not None else (principal.org_id if principal is not None else None),
        "user_id": principal.user_id if principal is not None else None,
        "actor": actor_of(principal)[:120],
        "action": action,
        "object_type": obj_type,
        "object_id": str(obj_id)[:64],
        "document_id": document_id,
        "form_code": form_code[:64],
        "ip": (ip if ip is not None else current_ip.get())[:45],
        "detail": _json_safe(detail),
    }


def audit(
    db: Session,
    principal: AuditPrincipal,
    action: str,
    *,
    obj_type: str = "",
    obj_id: str = "",
    detail: dict[str, Any] | None = None,
    personal: dict[str, Any] | None = None,
    document_id: str | None = None,
    form_code: str | None = None,
    org_id: int | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append an audit event to the chain, in the caller's transaction.

    ``personal`` holds personal values (field values typed into a form); they are sealed with the
    document's key into ``detail["sealed"]`` (see :mod:`ocr_service.audit.chain`). ``org_id`` overrides the
    principal's organisation (a CLI action on an organisation, a failed login of a known account).
    ``form_code`` defaults to the form of ``document_id``.
    """
    values = event_values(
        db,
        principal,
        action,
        obj_type=obj_type,
        obj_id=obj_id,
        detail=detail,
        personal=personal,
        document_id=document_id,
        form_code=form_code,
        org_id=org_id,
        ip=ip,
    )
    event = append_event(db, values=values)
    logger.info(
        "audit seq=%s action=%s org=%s actor=%s %s=%s",
        event.seq,
        action,
        values["org_id"],
        values["actor"],
        obj_type,
        obj_id,
    )
    return event


def record_audit_event(
    db: Session,
    *,
    action: str,
    org_id: int | None,
    user_id: int | None,
    object_type: str = "",
    object_id: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Compatibility for code written before :func:`audit` (parallel branches); new code calls ``audit``.

    The actor is looked up from ``user_id``; the event joins the same chain.
    """
    from ocr_service.auth.models import User

    user = db.get(User, user_id) if user_id is not None else None
    principal: AuditPrincipal = (
        Principal(user_id=user.id, org_id=user.org_id, role=user.role, username=user.username)
        if user is not None
        else SYSTEM
    )
    return audit(db, principal, action, obj_type=object_type, obj_id=object_id, detail=detail, org_id=org_id)
