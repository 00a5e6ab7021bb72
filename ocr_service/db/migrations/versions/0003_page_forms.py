"""per-page form identification (issue 4)

An upload that names no form is identified page by page, so the form version a
page was read with belongs to the page: ``pages.form_id`` (nullable: blank and
unidentified pages have none) and the identification score.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a foreign key with ALTER TABLE.
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("identify_score", sa.Float(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_pages_form_id_form_definitions"), "form_definitions", ["form_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_pages_form_id"), ["form_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pages_form_id"))
        batch_op.drop_constraint(batch_op.f("fk_pages_form_id_form_definitions"), type_="foreignkey")
        batch_op.drop_column("identify_score")
        batch_op.drop_column("form_id")
