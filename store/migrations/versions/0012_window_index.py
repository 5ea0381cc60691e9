"""Digests indexed by (subscriber, window end); the unread deliveries.next_attempt_at index goes.

Each dispatch reads every due subscriber's previous window end (``Ledger.window_ends``): with a
year of digests kept that walked every kept digest of each subscriber (986 ms at 10,000
subscribers x 30 digests on SQLite; 283 ms from this index: bench/window_bench.py). No query
reads ``ix_deliveries_next_attempt_at`` (claims use the partial ``ix_deliveries_due``, checked
with EXPLAIN on both databases), so it is dropped.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_digests_subscriber_window", "digests", ["subscriber_id", "window_end"], unique=False
    )
    op.drop_index("ix_deliveries_next_attempt_at", table_name="deliveries")


def downgrade() -> None:
    op.create_index(
        "ix_deliveries_next_attempt_at", "deliveries", ["next_attempt_at"], unique=False
    )
    op.drop_index("ix_digests_subscriber_window", table_name="digests")
