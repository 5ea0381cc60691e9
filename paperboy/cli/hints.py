"""What the CLI tells an operator to do about an error; the layers below raise data, not words."""

from __future__ import annotations

from paperboy.errors import PaperboyError
from store.errors import AlreadySubscribed, NoSuchProfile, NoSuchSubscriber, ProfileNameTaken


def hint_for(error: PaperboyError) -> str:
    """The hint printed under ``error``: a command that helps for the store's refusals."""
    if isinstance(error, AlreadySubscribed):
        return "use `paperboy subscriber set` to change an existing subscriber"
    if isinstance(error, NoSuchSubscriber):
        return "`paperboy subscriber list` shows who there is"
    if isinstance(error, ProfileNameTaken):
        return "use `paperboy profile edit` to change it"
    if isinstance(error, NoSuchProfile):
        return "`paperboy profile list EMAIL` shows them"
    return error.hint
