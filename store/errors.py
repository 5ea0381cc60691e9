"""The store's refusals, as data: what was asked and why not. Telling a person what to do about
them (a command to run, a page to open) is the CLI's and the web's business, not the store's."""

from __future__ import annotations

from collections.abc import Iterable

from base.errors import InputError


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


class NoSuchProfile(InputError):
    """The subscriber has no profile of this name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no profile named {name!r}")
