"""review outcomes for calibration (issue 16)

``field_results.read_value`` keeps what the machine read, sealed with the document's data key
like ``value`` (crypto-erased with the document),
so that confirming can tell an accepted value from a corrected one; ``field_outcomes``
keeps, per confirmed field, form, field, type, calibrated confidence, corrected or not and
the edit distance — no value and no image — for ``ocr-service calibrate --from-reviews``.

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("field_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_value", sa.Text(), nullable=True))
    op.create_table(
        "field_outcomes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("form_id", sa.String(length=32), nullable=True),
        sa.Column("form_code", sa.String(length=64), nullable=False),
        sa.Column("field_name", sa.String(length=64), nullable=False),
        sa.Column("field_type", sa.String(length=20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("read_empty", sa.Boolean(), nullable=False),
        sa.Column("corrected", sa.Boolean(), nullable=False),
        sa.Column("edit_distance", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["form_definitions.id"],
            name=op.f("fk_field_outcomes_form_id_form_definitions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_field_outcomes_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_outcomes")),
    )
    with op.batch_alter_table("field_outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_field_outcomes_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_field_outcomes_form_id"), ["form_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_field_outcomes_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("field_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_outcomes_created_at"))
        batch_op.drop_index(batch_op.f("ix_field_outcomes_form_id"))
        batch_op.drop_index(batch_op.f("ix_field_outcomes_org_id"))
    op.drop_table("field_outcomes")
    with op.batch_alter_table("field_results", schema=None) as batch_op:
        batch_op.drop_column("read_value")
