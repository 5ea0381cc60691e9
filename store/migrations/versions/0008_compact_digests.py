"""Digests stay compact: no stored HTML or text, and the message bytes only while they may be sent.

Every digest kept its HTML, its text and its MIME message forever (~100 KB each). The archive
page is rendered anew from ``paper_ids``, so ``html`` and ``text`` go. The message moves to a
table of its own, ``messages`` (one row per digest whose delivery may still send it), deleted
once the delivery is final: here the bytes of deliveries not yet final move there, the others
(final deliveries, skipped digests) go. Kept in the digest row and cleared, they left a nearly
empty page per digest (bench/RESULTS.md). Old digests are pruned by the dispatch
(PAPERBOY_DIGEST_RETENTION_DAYS). SQLite reuses the freed pages; `VACUUM` gives them back to
the file system.

Downgrading puts the bytes that are left back into ``digests.message`` (an empty message where
there are none) and empty ``html`` and ``text``: what was dropped is not rebuilt.

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
    op.create_table(
        "messages",
        sa.Column("digest_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["digest_id"], ["digests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("digest_id"),
    )
    digests = sa.table("digests", sa.column("id"), sa.column("message"))
    deliveries = sa.table("deliveries", sa.column("digest_id"), sa.column("state"))
    messages = sa.table("messages", sa.column("digest_id"), sa.column("message"))
    waiting = sa.select(digests.c.id, digests.c.message).where(
        digests.c.id.in_(sa.select(deliveries.c.digest_id).where(deliveries.c.state.not_in(FINAL)))
    )  # a skipped digest has no delivery: never sent, nothing to keep
    op.execute(messages.insert().from_select(["digest_id", "message"], waiting))
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.drop_column("message")
        batch_op.drop_column("html")
        batch_op.drop_column("text")


def downgrade() -> None:
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("html", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("message", sa.LargeBinary(), nullable=True))
    digests = sa.table("digests", sa.column("id"), sa.column("message", sa.LargeBinary()))
    messages = sa.table("messages", sa.column("digest_id"), sa.column("message"))
    kept = sa.select(messages.c.message).where(messages.c.digest_id == digests.c.id)
    op.execute(digests.update().values(message=kept.scalar_subquery()))
    op.execute(digests.update().where(digests.c.message.is_(None)).values(message=b""))
    with op.batch_alter_table("digests", schema=None) as batch_op:  # as 0003 made them
        batch_op.alter_column("html", existing_type=sa.Text(), server_default=None)
        batch_op.alter_column("text", existing_type=sa.Text(), server_default=None)
        batch_op.alter_column("message", existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table("messages")
