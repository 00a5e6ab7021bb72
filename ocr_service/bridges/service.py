"""Heartbeats from scanner bridges and the state shown to administrators."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.service import audit
from ocr_service.auth.service import Principal
from ocr_service.bridges.models import Bridge
from ocr_service.bridges.schemas import BridgeOut, HeartbeatIn
from ocr_service.db.base import utcnow

SILENT_AFTER = timedelta(minutes=5)
"""No heartbeat for this long (five default intervals) and the bridge is shown as 応答なし."""
STATE_LABELS = {"ok": "稼働中", "error": "エラー", "silent": "応答なし"}


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def bridge_state(bridge: Bridge, *, now: datetime) -> str:
    seen = _aware(bridge.last_seen_at)
    if seen is None or now - seen > SILENT_AFTER:
        return "silent"
    error_at, success_at = _aware(bridge.last_error_at), _aware(bridge.last_success_at)
    if error_at is not None and (success_at is None or error_at > success_at):
        return "error"
    return "ok"


def record_heartbeat(db: Session, *, principal: Principal, beat: HeartbeatIn) -> Bridge:
    """Upsert the bridge's row; a new bridge and each new error message leave an audit event.

    A routine beat (every minute, day and night) is not an event: it would bury people's actions and
    trip the off-hours flag; ``last_seen_at`` keeps it.
    """
    bridge = db.scalar(select(Bridge).where(Bridge.name == beat.name))
    if bridge is None:
        bridge = Bridge(org_id=principal.org_id, name=beat.name, user_id=principal.user_id)
        db.add(bridge)
        db.flush()
        audit(
            db,
            principal,
            "bridge.register",
            obj_type="bridge",
            obj_id=bridge.id,
            detail={"name": beat.name, "hostname": beat.hostname, "version": beat.version},
        )
    elif beat.last_error and beat.last_error != bridge.last_error:
        audit(
            db,
            principal,
            "bridge.error",
            obj_type="bridge",
            obj_id=bridge.id,
            detail={"error": beat.last_error[:500]},
        )
    bridge.user_id = principal.user_id
    bridge.version = beat.version
    bridge.hostname = beat.hostname
    bridge.hot_folders = [folder[:500] for folder in beat.hot_folders]
    bridge.queued = beat.queued
    bridge.quarantined = beat.quarantined
    bridge.last_success_at = beat.last_success_at
    bridge.last_error = beat.last_error
    bridge.last_error_at = beat.last_error_at
    bridge.last_seen_at = utcnow()
    db.commit()
    return bridge


def list_bridges(db: Session) -> list[BridgeOut]:
    now = utcnow()
    rows = []
    for bridge in db.scalars(select(Bridge).order_by(Bridge.name)):
        state = bridge_state(bridge, now=now)
        out = BridgeOut.model_validate(bridge)
        rows.append(out.model_copy(update={"state": state, "state_label": STATE_LABELS[state]}))
    return rows
