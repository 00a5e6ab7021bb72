"""heartbeat-renewed document leases (issue 17)

A worker holding a document now renews a short lease from a heartbeat thread, so
the lease names its holder: ``documents.lease_token`` (random per claim). A worker
that lost its lease (it stalled past the TTL and another took over) can tell, and
stops instead of renewing or finishing someone else's claim.

Revision ID: 0009
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_token", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("lease_token")
