"""An index of the deliveries waiting to be sent, in the order senders claim them.

Claiming ("the next ten due deliveries") sorted every waiting row under the write lock; with this
partial index it reads ten entries.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WAITING = sa.text("state IN ('pending', 'temp_failed')")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at", "id"],
        sqlite_where=WAITING,
        postgresql_where=WAITING,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
