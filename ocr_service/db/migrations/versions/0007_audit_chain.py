"""audit hash chain (issue 13)

Every audit event gets its chain position (``seq``), the previous event's hash and its own
SHA-256 (canonical form in ocr_service/audit/chain.py), who acted in words (``actor``), the
client address, and the document and form it concerns. Existing events are chained in id order; ``audit_chain_head`` holds
the last seq and hash.

Revision ID: 0007
Revises: 0008
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _canonical_hash(values: dict[str, Any]) -> str:
    # Frozen copy of canonical form v1 (ocr_service.audit.chain.canonical_bytes) as of this revision.
    moment = values["created_at"]
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    payload = {
        "v": 1,
        "seq": values["seq"],
        "prev": values["prev_hash"],
        "at": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "org": values["org_id"],
        "user": values["user_id"],
        "actor": values["actor"],
        "action": values["action"],
        "obj_type": values["object_type"],
        "obj_id": values["object_id"],
        "document": None,
        "form": "",
        "ip": "",
        "detail": values["detail"],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("actor", sa.String(length=120), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("document_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("form_code", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("ip", sa.String(length=45), nullable=False, server_default=""))
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    conn = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("id", sa.Integer),
        sa.column("org_id", sa.Integer),
        sa.column("user_id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("object_type", sa.String),
        sa.column("object_id", sa.String),
        sa.column("detail", sa.JSON),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("seq", sa.BigInteger),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
        sa.column("actor", sa.String),
    )
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))
    names = {row.id: row.username for row in conn.execute(sa.select(users.c.id, users.c.username))}
    previous, seq = GENESIS, 0
    for row in conn.execute(sa.select(events).order_by(events.c.id)).mappings().all():
        seq += 1
        actor = names.get(row["user_id"], "anonymous") if row["user_id"] is not None else "anonymous"
        values = {**row, "seq": seq, "prev_hash": previous, "actor": actor}
        digest = _canonical_hash(values)
        conn.execute(
            events.update()
            .where(events.c.id == row["id"])
            .values(seq=seq, prev_hash=previous, hash=digest, actor=actor)
        )
        previous = digest
    conn.execute(
        sa.text("INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, :seq, :hash)"),
        {"seq": seq, "hash": previous},
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f("ix_audit_events_seq"), ["seq"], unique=True)
        batch_op.create_index(batch_op.f("ix_audit_events_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_document_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_seq"))
        for column in (
            "ip",
            "form_code",
            "document_id",
            "actor",
            "hash",
            "prev_hash",
            "seq",
        ):
            batch_op.drop_column(column)
    op.drop_table("audit_chain_head")
