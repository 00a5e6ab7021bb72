"""heartbeat-renewed document leases (issue 17)

A worker holding a document now renews a short lease from a heartbeat thread, so
the lease names its holder: ``documents.lease_token`` (random per claim). A worker
that lost its lease (it stalled past the TTL and another took over) can tell, and
stops instead of renewing or finishing someone else's claim.

Revision ID: 0009
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not batch mode: on SQLite batch mode may copy and drop ``documents``, whose
# ON DELETE CASCADE would empty pages and field_results (SQLite >= 3.35 adds and drops columns).


def upgrade() -> None:
    op.add_column("documents", sa.Column("lease_token", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("documents", "lease_token")
