"""The store's refusals, as data: what was asked and why not. Telling a person what to do about
them (a command to run, a page to open) is the CLI's and the web's business, not the store's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from base.errors import InputError, StoreError


class AlreadySubscribed(InputError):
    """Some addresses are subscribers already (nothing was added)."""

    def __init__(self, emails: Iterable[str]) -> None:
        self.emails = tuple(sorted(emails))
        super().__init__(f"already subscribed: {', '.join(self.emails)}")


class NoSuchSubscriber(InputError):
    """No subscriber has this address."""

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__(f"no subscriber {email!r}")


class ProfileNameTaken(InputError):
    """The subscriber already has a profile of this name."""

    def __init__(self, email: str, name: str) -> None:
        self.email = email
        self.name = name
        super().__init__(f"{email} already has a profile named {name!r}")


class TooManyProfiles(InputError):
    """A subscriber keeps at most ``limit`` profiles (the store checks it in the write)."""

    def __init__(self, email: str, limit: int) -> None:
        self.email = email
        self.limit = limit
        super().__init__(f"{email} would have more than {limit} profiles (at most {limit})")


class NoSuchProfile(InputError):
    """The subscriber has no profile of this name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no profile named {name!r}")


class ProfileGone(InputError):
    """The profile was removed (feedback on it can no longer be kept)."""

    def __init__(self, profile_id: int) -> None:
        self.profile_id = profile_id
        super().__init__("this profile no longer exists")


class MessageMissing(StoreError):
    """A claimed delivery's digest has no message bytes (cannot happen: they go only with a
    final state)."""

    def __init__(self, delivery_id: int, digest_id: int) -> None:
        self.delivery_id = delivery_id
        self.digest_id = digest_id
        super().__init__(
            f"delivery {delivery_id} was claimed but its digest {digest_id} has no message"
        )


class DanglingRows(StoreError):
    """A migration left rows pointing at nothing; it was rolled back."""

    def __init__(self, broken: Sequence[object]) -> None:
        self.broken = tuple(broken)
        super().__init__(
            f"the migration left {len(self.broken)} row(s) pointing at nothing: "
            f"{list(self.broken[:5])}"
        )


class VectorsNotKept(StoreError):
    """Vectors could not be written (the database said why; nothing of them was kept)."""


class SchemaNotCurrent(StoreError):
    """The database's schema is not the one this Paperboy needs (nothing was changed).
    ``known``: ``current`` is one of this Paperboy's migrations (an upgrade brings it to
    ``head``); otherwise a newer Paperboy, or another tool, migrated the database."""

    def __init__(self, current: str, head: str, *, known: bool = True) -> None:
        self.current = current
        self.head = head
        self.known = known
        super().__init__(
            f"the database is at schema {current}, this Paperboy needs {head}"
            if known
            else f"the database is at schema {current}, which this Paperboy does not know "
            f"(it needs {head})"
        )
