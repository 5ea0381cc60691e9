"""The "More like this" / "Not interested" links of a digest: one paper, one profile.

A GET only shows the paper with its buttons (mail scanners follow every link); the POST records
the chosen signal (or undoes it) at once. No cookie and no CSRF field: the signed link is the
authority, as for the one-click unsubscribe, and the form posts the action only. Like the
archive page, the page shows neither the subscriber's address nor links that change the
subscription: digests get forwarded.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse

from paperboy.digest import paper_entry
from paperboy.errors import InputError
from paperboy.links import PREFIX, FeedbackLink
from paperboy.tokens import Purpose, TokenError
from paperboy.web.site import Site
from store.feedback import FeedbackStore, Signal
from store.types import Paper, Profile

ROUTE = f"{PREFIX[Purpose.FEEDBACK]}/{{token}}"
ACTIONS = {"like": Signal.LIKE, "reject": Signal.REJECT}
NOTED = {
    Signal.LIKE: "Noted: more papers like this one",
    Signal.REJECT: "Noted: fewer papers like this one",
}


@dataclass(frozen=True, slots=True)
class Target:
    """What a feedback link points at, both still there."""

    profile: Profile
    paper: Paper


def routes(site: Site) -> APIRouter:
    router = APIRouter()
    feedback = FeedbackStore(site.context.engine)

    def target(token: str) -> Target | HTMLResponse:
        """The profile and paper the link names, or the page that says why not."""
        try:
            link, subscriber = site.open(FeedbackLink, token)
        except TokenError as e:
            return site.refused(e)
        profiles = site.people.profiles(subscriber.id)
        profile = next((p for p in profiles if p.id == link.profile_id), None)
        if profile is None:
            return gone_profile()
        papers = site.papers.papers_by_id([link.arxiv_id])
        if not papers:
            return site.message(
                "This paper is not here any more",
                "Paperboy no longer keeps this paper, so nothing was recorded.",
                status=404,
            )
        return Target(profile, papers[0])

    def gone_profile() -> HTMLResponse:
        return site.message(
            "This profile was removed",
            "The profile this paper was sent for no longer exists, so nothing was recorded.",
            status=404,
            hint="the manage page, linked from every digest, shows your profiles",
        )

    def show(found: Target, *, status: int = 200, noted: str = "") -> HTMLResponse:
        signal = feedback.signal(found.profile.id, found.paper.arxiv_id)
        return site.render(
            "feedback",
            status,
            title=noted or "Tell Paperboy what you think",
            e=paper_entry(found.paper),
            profile=found.profile.name,
            signal=signal.value if signal is not None else "",
            noted=noted,
        )

    @router.get(ROUTE)
    def feedback_page(token: str) -> HTMLResponse:
        """Shows the buttons; records nothing."""
        found = target(token)
        if isinstance(found, HTMLResponse):
            return found
        return show(found)

    @router.post(ROUTE)
    def feedback_post(token: str, action: str = Form("")) -> HTMLResponse:
        """Records "like" or "reject" (the latest wins), or "undo" forgets it."""
        found = target(token)
        if isinstance(found, HTMLResponse):
            return found
        profile_id, arxiv_id = found.profile.id, found.paper.arxiv_id
        if action == "undo":
            feedback.undo(profile_id, arxiv_id)
            return show(found, noted="Undone: this paper no longer counts either way")
        signal = ACTIONS.get(action)
        if signal is None:
            return site.message(
                "Nothing changed",
                "Choose “More like this” or “Not interested” on the page.",
                status=400,
            )
        try:
            feedback.record(profile_id, arxiv_id, signal, site.clock())
        except InputError:  # the profile was removed since the page was shown
            return gone_profile()
        return show(found, noted=NOTED[signal])

    return router
