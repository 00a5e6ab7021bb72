"""Signed checkpoints of the audit chain head, and the full verification.

A checkpoint is an ``audit.checkpoint`` event whose detail holds the head it signs (seq, hash),
the installation key id and an Ed25519 signature, and the same record is appended to
``<data_dir>/audit/checkpoints.jsonl``. The file copy matters: someone who can only change the
database could delete the tail of the chain together with the checkpoint events in it, but not
the file, so a truncated tail is still found.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ocr_service.audit.chain import ChainReport, Problem, append_event, read_head, walk_chain
from ocr_service.audit.models import AuditEvent
from ocr_service.config import Settings
from ocr_service.signing import key_id, public_key_pem, sign, verify_signature

logger = logging.getLogger(__name__)

CHECKPOINT_ACTION = "audit.checkpoint"


def checkpoint_message(seq: int, head_hash: str) -> bytes:
    return f"ocr-service audit checkpoint v1 seq={seq} hash={head_hash}".encode("ascii")


def checkpoint_file(settings: Settings) -> Path:
    return settings.data_dir / "audit" / "checkpoints.jsonl"


def signed_head(settings: Settings, *, seq: int, head_hash: str) -> dict[str, Any]:
    """A signed statement "the chain reached ``seq`` with ``head_hash``" (checkpoints, deletion certificates).

    A deletion certificate takes the seq and hash of the deletion's own audit event (what ``audit``
    returns) and embeds this; ``verify_checkpoint_detail`` checks it with the installation's key.
    """
    signature = sign(settings, checkpoint_message(seq, head_hash))
    return {
        "seq": seq,
        "hash": head_hash,
        "key_id": key_id(public_key_pem(settings)),
        "signature": base64.b64encode(signature).decode(),
    }


def verify_checkpoint_detail(settings: Settings, detail: dict[str, Any]) -> bool:
    return _valid(detail, public_key_pem(settings))


def create_checkpoint(db: Session, *, settings: Settings, values: dict[str, Any]) -> AuditEvent:
    """Sign the current chain head (in the caller's transaction; commit, then the file line is written).

    ``values`` are the event columns the audit call prepared (actor, time …).
    """

    def detail(seq: int, head_hash: str) -> dict[str, Any]:
        return signed_head(settings, seq=seq, head_hash=head_hash)

    return append_event(db, values={**values, "action": CHECKPOINT_ACTION}, detail_from_head=detail)


def write_checkpoint_file(settings: Settings, detail: dict[str, Any]) -> None:
    """Append one line; an append-only history (not temp+rename) so earlier checkpoints stay."""
    path = checkpoint_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (
        json.dumps({k: detail[k] for k in ("seq", "hash", "key_id", "signature")}, separators=(",", ":"))
        + "\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as handle:
        handle.write(line)


@dataclass
class Claim:
    seq: int
    hash: str
    source: str


def _valid(detail: dict[str, Any], pem: bytes) -> bool:
    try:
        signature = base64.b64decode(str(detail["signature"]), validate=True)
        return verify_signature(pem, checkpoint_message(int(detail["seq"]), str(detail["hash"])), signature)
    except (KeyError, ValueError, TypeError):
        return False


def _file_claims(settings: Settings, pem: bytes, report: ChainReport) -> list[Claim]:
    path = checkpoint_file(settings)
    claims: list[Claim] = []
    if not path.is_file():
        return claims
    for number, line in enumerate(path.read_text(encoding="ascii", errors="replace").splitlines(), start=1):
        try:
            detail = json.loads(line)
        except json.JSONDecodeError:
            detail = {}
        if not isinstance(detail, dict) or not _valid(detail, pem):
            report.problems.append(Problem(1, f"checkpoint file line {number} has no valid signature"))
            continue
        claims.append(Claim(int(detail["seq"]), str(detail["hash"]), f"file line {number}"))
    return claims


def verify_audit_log(db: Session, *, settings: Settings) -> ChainReport:
    """Walk the chain, check every checkpoint (in the chain and in the file) and the head row."""
    pem = public_key_pem(settings)
    claims: dict[int, list[Claim]] = {}
    signed_events = list(db.scalars(select(AuditEvent).where(AuditEvent.action == CHECKPOINT_ACTION)))
    bad_signatures = {e.seq for e in signed_events if not _valid(e.detail, pem)}
    for event in signed_events:
        if event.seq not in bad_signatures:
            claim = Claim(
                int(event.detail["seq"]), str(event.detail["hash"]), f"checkpoint event {event.seq}"
            )
            claims.setdefault(claim.seq, []).append(claim)
    file_report = ChainReport()
    for claim in _file_claims(settings, pem, file_report):
        claims.setdefault(claim.seq, []).append(claim)
    last_good_checkpoint = 0

    def on_event(event: AuditEvent, report: ChainReport) -> None:
        nonlocal last_good_checkpoint
        if event.seq in bad_signatures:
            report.problems.append(
                Problem(event.seq, "checkpoint signature does not verify (forged or changed)")
            )
            return
        for claim in claims.get(event.seq, []):
            if claim.hash != event.hash:
                report.problems.append(
                    Problem(
                        last_good_checkpoint + 1,
                        f"events after checkpoint {last_good_checkpoint} were rewritten: "
                        f"{claim.source} signed a different hash for event {event.seq}",
                    )
                )
                return
        if event.seq in claims:
            last_good_checkpoint = event.seq
            report.checkpoints += 1

    db.expire_all()
    report = walk_chain(db, on_event=on_event)
    report.problems.extend(file_report.problems)
    if report.ok:
        _check_tail(db, report, claims)
    return report


def _check_tail(db: Session, report: ChainReport, claims: dict[int, list[Claim]]) -> None:
    end = report.last_seq
    beyond = [c for seq, cs in claims.items() if seq > end for c in cs]
    if beyond:
        furthest = max(beyond, key=lambda c: c.seq)
        report.problems.append(
            Problem(
                end + 1, f"events after {end} were deleted: {furthest.source} signed event {furthest.seq}"
            )
        )
    head = read_head(db)
    if head is None:
        if end:
            report.problems.append(Problem(end, "the chain head row is missing"))
        return
    head_seq, head_hash = head
    if head_seq > end:
        report.problems.append(
            Problem(end + 1, f"events after {end} were deleted: the head is at {head_seq}")
        )
    elif head_seq < end:
        report.problems.append(Problem(head_seq + 1, f"events after the head ({head_seq}) were added"))
    elif head_hash != report.last_hash:
        report.problems.append(Problem(end, "the last event does not match the chain head"))
