"""Digests stay compact: no stored HTML or text, and the message bytes only while they may be sent.

Every digest kept its HTML, its text and its MIME message forever (~100 KB each). The archive
page is rendered anew from ``paper_ids``, so ``html`` and ``text`` go; ``message`` becomes
nullable and is cleared once the delivery is final (here too, for the deliveries already final,
and for skipped digests, which are never sent). Old digests are pruned by the dispatch
(PAPERBOY_DIGEST_RETENTION_DAYS). SQLite reuses the freed pages; `VACUUM` gives them back to
the file system.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FINAL = ("sent", "perm_failed", "expired", "unknown")


def upgrade() -> None:
    digests = sa.table("digests", sa.column("id"), sa.column("kind"), sa.column("message"))
    deliveries = sa.table("deliveries", sa.column("digest_id"), sa.column("state"))
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.alter_column("message", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.drop_column("html")
        batch_op.drop_column("text")
    final = sa.select(deliveries.c.digest_id).where(deliveries.c.state.in_(FINAL))
    op.get_bind().execute(
        sa.update(digests)
        .where(sa.or_(digests.c.kind == "skipped", digests.c.id.in_(final)))
        .values(message=None)
    )


def downgrade() -> None:
    digests = sa.table("digests", sa.column("message"))
    op.get_bind().execute(sa.update(digests).where(digests.c.message.is_(None)).values(message=b""))
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("html", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=False, server_default=""))
        batch_op.alter_column("message", existing_type=sa.LargeBinary(), nullable=False)
    with op.batch_alter_table("digests", schema=None) as batch_op:  # as 0003 made them
        batch_op.alter_column("html", existing_type=sa.Text(), server_default=None)
        batch_op.alter_column("text", existing_type=sa.Text(), server_default=None)
