"""What the CLI tells an operator to do about an error; the layers below raise data, not words."""

from __future__ import annotations

from paperboy.errors import PaperboyError
from store.errors import (
    AlreadySubscribed,
    DanglingRows,
    MessageMissing,
    NoSuchProfile,
    NoSuchSubscriber,
    ProfileGone,
    ProfileNameTaken,
    SchemaNotCurrent,
    TooManyProfiles,
    VectorsNotKept,
)


def hint_for(error: PaperboyError) -> str:
    """The hint printed under ``error``: a command that helps for the store's refusals."""
    if isinstance(error, AlreadySubscribed):
        return "use `paperboy subscriber set` to change an existing subscriber"
    if isinstance(error, NoSuchSubscriber):
        return "`paperboy subscriber list` shows who there is"
    if isinstance(error, TooManyProfiles):
        return "remove one with `paperboy profile remove`, or join two with OR in one profile"
    if isinstance(error, ProfileNameTaken):
        return "use `paperboy profile edit` to change it"
    if isinstance(error, NoSuchProfile):
        return "`paperboy profile list EMAIL` shows them"
    if isinstance(error, ProfileGone):
        return "the manage page shows your profiles"
    if isinstance(error, MessageMissing):
        return "see it with `paperboy deliveries`; report this with `paperboy db current`"
    if isinstance(error, DanglingRows):
        return "nothing was changed; report this with the output of `paperboy db current`"
    if isinstance(error, VectorsNotKept):  # the database's own hint first (a full disk, a lock)
        return error.hint or "these vectors were not kept; `paperboy embed` computes them again"
    if isinstance(error, SchemaNotCurrent) and not error.known:
        return (
            "a newer Paperboy (or another tool) migrated this database: run that version, or "
            "restore the backup taken before it upgraded"
        )
    if isinstance(error, SchemaNotCurrent):
        return "run `paperboy db upgrade` (back the database up first)"
    return error.hint
