"""`paperboy profile like|unlike`: what a digest's "More like this" / "Not interested" buttons
do, from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from paperboy import subscribers as rules
from paperboy.cli.app import out, profile_app, state
from paperboy.clock import system_clock
from paperboy.errors import InputError

if TYPE_CHECKING:  # the store's tables load when a command runs
    from store.subscribers import SubscriberStore
    from store.types import Profile

EMAIL = typer.Argument(..., help="The subscriber's address.")
PROFILE = typer.Argument(..., help="The profile's name.")
PAPER = typer.Argument(..., help="The paper's arXiv id, e.g. 2401.00001.")


@profile_app.command("like")
def like(
    ctx: typer.Context,
    email: str = EMAIL,
    name: str = PROFILE,
    paper: str = PAPER,
    reject: bool = typer.Option(
        False, "--not-interested", "--reject", help="Record 'Not interested' instead."
    ),
) -> None:
    """Record 'More like this' on a stored paper for a profile (the latest signal wins)."""
    from paperboy.feedback import example_id
    from store.feedback import FeedbackStore, Signal

    people = state(ctx).subscribers()
    profile = _profile(people, email, name)
    arxiv_id = example_id(paper)
    found = state(ctx).store().papers_by_id([arxiv_id])
    if not found:
        raise InputError(
            f"paper {arxiv_id} is not stored",
            hint="`paperboy papers --search WORDS` finds the papers Paperboy has fetched",
        )
    signal = Signal.REJECT if reject else Signal.LIKE
    FeedbackStore(state(ctx).engine()).record(profile.id, arxiv_id, signal, system_clock())
    said = "not interested in" if reject else "more like"
    out.print(f"{escape(profile.name)}: {said} {arxiv_id} ({escape(found[0].title)}).")


@profile_app.command("unlike")
def unlike(ctx: typer.Context, email: str = EMAIL, name: str = PROFILE, paper: str = PAPER) -> None:
    """Undo a profile's 'More like this' or 'Not interested' on a paper."""
    from paperboy.feedback import example_id
    from store.feedback import FeedbackStore

    profile = _profile(state(ctx).subscribers(), email, name)
    arxiv_id = example_id(paper)
    if FeedbackStore(state(ctx).engine()).undo(profile.id, arxiv_id):
        out.print(f"{escape(profile.name)}: {arxiv_id} no longer counts either way.")
    else:
        out.print(f"{escape(profile.name)}: nothing was said about {arxiv_id}; nothing changed.")


def _profile(people: SubscriberStore, email: str, name: str) -> Profile:
    subscriber = people.require(rules.normalise_email(email))
    found = next((p for p in people.profiles(subscriber.id) if p.name == name), None)
    if found is None:
        raise InputError(
            f"{subscriber.email} has no profile named {rules.shown(name)}",
            hint=f"`paperboy profile list {subscriber.email}` shows them",
        )
    return found
