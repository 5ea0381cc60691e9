"""Every subscriber gets a random link key, and SQLite never hands a deleted id out again.

Links in mails named a subscriber by row id, and SQLite (without AUTOINCREMENT) gives the id of
the newest deleted row to the next insert: an old link then acted on a stranger. Links now carry
the subscriber's random ``link_key`` (rotated when the links must die), and the SQLite table is
rebuilt with AUTOINCREMENT so ids are never reused either (PostgreSQL sequences never reuse).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_key", sa.String(length=32), nullable=True))
    connection = op.get_bind()
    subscribers = sa.table("subscribers", sa.column("id"), sa.column("link_key"))
    ids = connection.execute(sa.select(subscribers.c.id)).scalars().all()
    for subscriber_id in ids:
        connection.execute(
            sa.update(subscribers)
            .where(subscribers.c.id == subscriber_id)
            .values(link_key=secrets.token_urlsafe(18))
        )
    sqlite = connection.dialect.name == "sqlite"
    with op.batch_alter_table(
        "subscribers",
        schema=None,
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True} if sqlite else {},
    ) as batch_op:
        batch_op.alter_column("link_key", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint("uq_subscribers_link_key", ["link_key"])


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_subscribers_link_key", type_="unique")
        batch_op.drop_column("link_key")
