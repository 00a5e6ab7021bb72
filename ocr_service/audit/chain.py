"""The audit hash chain: canonical form, append under a lock, verification.

Canonical form (version 1) of an event, hashed with SHA-256 (hex)::

    {"action":…, "actor":…, "at":"2026-11-02T01:02:03.000004Z", "detail":{…}, "document":… | null,
     "form":…, "ip":…, "obj_id":…, "obj_type":…, "org":… | null,
     "prev":<previous event's hash, 64 zeros for the first>, "seq":…, "user":… | null, "v":1}

serialised as JSON with sorted keys, no whitespace (``separators=(",", ":")``), non-ASCII kept
(``ensure_ascii=False``) and encoded as UTF-8; ``at`` is the event time in UTC with microseconds.
Personal values (field values before and after an edit) are in ``detail["sealed"]`` as ciphertext
under the document's own data key (documents/sealing.py). The hash covers that ciphertext, and
erasing a document destroys its key, not the ciphertext: the values become unreadable while every
hash, and so the chain, stays valid.

The surrogate ``id`` column is only a storage key: an event is identified and ordered by ``seq``,
which is hashed.

Events after the last signed checkpoint are protected by the chain alone (an attacker who can
recompute hashes could rewrite them); checkpoints (:mod:`ocr_service.audit.checkpoints`) pin the
head with the installation's Ed25519 key, in the chain and in a file outside the database.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from ocr_service.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent

CANONICAL_VERSION = 1
logger = logging.getLogger(__name__)


def as_utc(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; everything stored is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical_bytes(values: dict[str, Any]) -> bytes:
    """The bytes that are hashed, from an event's column values (see the module docstring)."""
    payload = {
        "v": CANONICAL_VERSION,
        "seq": values["seq"],
        "prev": values["prev_hash"],
        "at": as_utc(values["created_at"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "org": values["org_id"],
        "user": values["user_id"],
        "actor": values["actor"],
        "action": values["action"],
        "obj_type": values["object_type"],
        "obj_id": values["object_id"],
        "document": values["document_id"],
        "form": values["form_code"],
        "ip": values["ip"],
        "detail": values["detail"],
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(values)).hexdigest()


def values_of(event: AuditEvent) -> dict[str, Any]:
    return {column: getattr(event, column) for column in _HASHED_COLUMNS}


_HASHED_COLUMNS = (
    "seq",
    "prev_hash",
    "created_at",
    "org_id",
    "user_id",
    "actor",
    "action",
    "object_type",
    "object_id",
    "document_id",
    "form_code",
    "ip",
    "detail",
)


def _take_head(db: Session) -> tuple[int, str]:
    """Advance the chain head by one and return the previous (seq, hash).

    The UPDATE comes before any read of the head: on PostgreSQL it row-locks the head until
    commit, on SQLite it takes the database write lock, so concurrent appends queue here.
    """
    statement = (
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(seq=AuditChainHead.seq + 1)
        .returning(AuditChainHead.seq, AuditChainHead.hash)
        .execution_options(synchronize_session=False)
    )
    row = db.execute(statement).first()
    if row is None:
        # The migration creates the head row; if it is gone (an emptied database, or tampering), rebuild it
        # from the last event so appends go on instead of failing every audited action. A racing creator
        # wins quietly (ON CONFLICT works on PostgreSQL and SQLite alike, no savepoint needed).
        last = db.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
        if last is not None:
            logger.error("audit chain head row missing; rebuilt from event %s", last[0])
        db.execute(
            text(
                "INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, :seq, :hash) ON CONFLICT (id) DO NOTHING"
            ),
            {"seq": last[0] if last else 0, "hash": last[1] if last else GENESIS_HASH},
        )
        row = db.execute(statement).one()
    new_seq, prev_hash = int(row[0]), str(row[1])
    return new_seq - 1, prev_hash


def append_event(
    db: Session,
    *,
    values: dict[str, Any],
    detail_from_head: Callable[[int, str], dict[str, Any]] | None = None,
) -> AuditEvent:
    """Insert one event at the head of the chain (in the caller's transaction).

    ``detail_from_head`` lets a checkpoint put the head it signs into its own detail while the
    head is locked.
    """
    prev_seq, prev_hash = _take_head(db)
    if detail_from_head is not None:
        values = {**values, "detail": detail_from_head(prev_seq, prev_hash)}
    values = {**values, "seq": prev_seq + 1, "prev_hash": prev_hash}
    digest = event_hash(values)
    event = AuditEvent(**values, hash=digest)
    db.add(event)
    db.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(hash=digest)
        .execution_options(synchronize_session=False)
    )
    db.flush([event])
    return event


@dataclass
class Problem:
    seq: int
    reason: str


@dataclass
class ChainReport:
    events: int = 0
    checkpoints: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        return min((p.seq for p in self.problems), default=None)


def walk_chain(
    db: Session, *, on_event: Callable[[AuditEvent, ChainReport], None] | None = None, batch: int = 1000
) -> ChainReport:
    """Recompute every hash in ``seq`` order; record where the stored chain stops matching.

    The first problem is the first event that was inserted, changed, deleted (a missing ``seq``) or
    moved (its ``seq`` is part of its hash). Walking stops at the first break: everything after it
    is unverifiable anyway.
    """
    report = ChainReport()
    expected_seq = 1
    previous = (GENESIS_HASH, "")
    last_seen = 0
    while True:
        rows = list(
            db.scalars(
                select(AuditEvent).where(AuditEvent.seq > last_seen).order_by(AuditEvent.seq).limit(batch)
            )
        )
        if not rows:
            break
        for event in rows:
            last_seen = event.seq
            problem = _check_event(event, expected_seq=expected_seq, previous=previous)
            if problem is not None:
                report.problems.append(problem)
                return report
            report.events += 1
            report.last_seq, report.last_hash = event.seq, event.hash
            if on_event is not None:
                on_event(event, report)
                if report.problems:
                    return report
            previous = (event.hash, event.prev_hash)
            expected_seq += 1
        db.expunge_all()
    return report


def _check_event(event: AuditEvent, *, expected_seq: int, previous: tuple[str, str]) -> Problem | None:
    """``previous`` is the (hash, prev_hash) of the event before, which passed these checks."""
    if event.seq != expected_seq:
        return Problem(expected_seq, f"event {expected_seq} is missing (next stored event is {event.seq})")
    consistent = event_hash(values_of(event)) == event.hash
    if event.prev_hash != previous[0]:
        # The link is broken between the previous event and this one; say which side was touched.
        if event.prev_hash == previous[1]:
            return Problem(event.seq - 1, "inserted: the next event links past it")
        if consistent:
            return Problem(event.seq - 1, "changed and re-hashed: the next event's link does not match")
        return Problem(
            event.seq, "its link to the previous event does not match (moved, inserted or changed)"
        )
    if not consistent:
        return Problem(event.seq, "its content does not match its hash (changed)")
    return None


def read_head(db: Session) -> tuple[int, str] | None:
    row = db.execute(select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == 1)).first()
    return (int(row[0]), str(row[1])) if row is not None else None
