"""Thumbnails by choice: subscribers.thumbnails (true: a small one beside each title; false: none).

A plain ``ADD COLUMN`` on both databases: a batch rebuild of ``subscribers`` on SQLite would drop
its AUTOINCREMENT (migration 0007), and a deleted subscriber's id could then be handed out again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server default true: every subscriber stored so far keeps the thumbnails they had.
    op.add_column(
        "subscribers",
        sa.Column("thumbnails", sa.Boolean(), server_default=sa.true(), nullable=False),
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "subscribers",
        schema=None,
        table_kwargs={"sqlite_autoincrement": True} if sqlite else {},
    ) as batch_op:
        batch_op.drop_column("thumbnails")
