"""per-page form identification (issue 4)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Reserved so that parallel work on the issues gets a linear migration chain.
    pass


def downgrade() -> None:
    pass
