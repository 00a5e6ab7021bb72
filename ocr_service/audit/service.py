"""The one function every audited action goes through."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from ocr_service.audit.models import AuditEvent

logger = logging.getLogger(__name__)


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
    """Add an audit event to the caller's transaction (it commits with the action it records)."""
    event = AuditEvent(
        action=action,
        org_id=org_id,
        user_id=user_id,
        object_type=object_type,
        object_id=object_id,
        detail=detail or {},
    )
    db.add(event)
    logger.info("audit action=%s org=%s user=%s %s=%s", action, org_id, user_id, object_type, object_id)
    return event
