"""`paperboy db`: the schema's revision and its migrations."""

from __future__ import annotations

import typer

from paperboy.cli.app import db_app, out, state


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration (a new SQLite file is migrated on first use anyway)."""
    from store.engine import current_revision, make_engine, upgrade

    engine = make_engine(state(ctx).settings.database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    if before == after:
        out.print(f"already at the latest schema ({after}).")
    else:
        out.print(f"upgraded the schema from {before or 'empty'} to {after}.")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the schema revision of the database and the one this Paperboy needs."""
    from store.engine import current_revision, head_revision, known_revisions, make_engine

    engine = make_engine(state(ctx).settings.database_url)
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        status = "up to date"
    elif current is not None and current not in known_revisions():
        status = "migrated by a newer Paperboy: run that version"
    else:
        status = "run `paperboy db upgrade`"
    out.print(f"database: {current or 'empty'}; this Paperboy: {head} ({status})")
    raise typer.Exit(0 if current == head else 1)
