"""The manage page, reached by the signed link in every digest: profiles with a preview (each
paper linked to its "More like this" / "Not interested" page), delivery settings and when the
next digest comes, the past digests, pause, resume, unsubscribe and "delete my data"
(paperboy.web.leaving). No passwords; the link is the key.

Every change is a plain form post (CSRF-checked) answered by a redirect back to the page; a
profile with a syntax error is shown again with the error under it and nothing is written. A
post whose cookie check fails changes nothing either: the page comes back (403) with the reason
at its top and every value of the form that was sent in its fields, ready to send again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperboy import subscribers as rules
from paperboy.errors import InputError
from paperboy.feedback import MAX_CLOSENESS, example_ids, example_query
from paperboy.links import path
from paperboy.planner import timing
from paperboy.semantic.vectors import needs_meaning
from paperboy.subscribers import WEEKDAYS, Action, Status, transition
from paperboy.tokens import MAX_AGE, Purpose
from paperboy.upcoming import upcoming
from paperboy.web.leaving import manage_owner, unsubscribed
from paperboy.web.preview import Preview, preview
from paperboy.web.security import SECURITY_HEADERS
from paperboy.web.site import Site, attempt
from store.digest_index import DigestIndex, PastDigest
from store.errors import TooManyProfiles
from store.feedback import Feedback, FeedbackStore
from store.subscribers import MAX_PROFILES
from store.types import DigestKind, NewProfile, Profile, Subscriber

FLASH = {
    "profile": "Profile saved.",
    "removed": "Profile removed.",
    "settings": "Delivery settings saved.",
    "pause": "Digests paused. Resume them here whenever you like.",
    "resume": "Digests resumed.",
    "undone": "Done: that paper no longer counts either way.",
    "examples": "Profile saved: it starts from the papers you gave.",
}
KEPT = "Not done yet: this is what you sent; send it again."  # by the form a refusal kept
ACTION_TEXT = {  # the page's buttons, as the refused page says what was asked
    Action.PAUSE: "pause digests",
    Action.RESUME: "resume digests",
    Action.UNSUBSCRIBE: "unsubscribe",
}
STATUS_LABEL = {
    Status.ACTIVE: "getting digests",
    Status.PAUSED: "paused",
    Status.UNSUBSCRIBED: "unsubscribed",
    Status.BOUNCED: "mail bounced",
    Status.PENDING: "not confirmed yet",
}


@dataclass(frozen=True, slots=True)
class ProfileForm:
    """One profile's form as shown: stored values, or what was just typed with its error."""

    original: str  # the stored name ("" for the "add a profile" form)
    name: str
    query: str
    error: str = ""
    preview: Preview | None = None
    feed_url: str = ""
    said: tuple[Feedback, ...] = ()  # "More like this" / "Not interested", each with an undo
    closeness: int = 0  # the stored step for about:/like: (< 0 broader, > 0 narrower)
    semantic: bool = False  # the query has about: or like: (the broader/narrower buttons)
    profile_id: int | None = None  # stored: its preview's papers link to their feedback page

    @property
    def closeness_text(self) -> str:
        if self.closeness == 0:
            return "the default"
        way = "broader" if self.closeness < 0 else "narrower"
        return f"{abs(self.closeness)} step{'s' if abs(self.closeness) > 1 else ''} {way}"


def routes(site: Site) -> APIRouter:
    router = APIRouter()
    feedback = FeedbackStore(site.context.engine)
    digests = DigestIndex(site.context.engine)

    def owner(request: Request, token: str) -> Subscriber | HTMLResponse:
        return manage_owner(site, request, token)

    def posted(
        request: Request,
        token: str,
        csrf: str,
        again: Callable[[Subscriber, str], HTMLResponse],
    ) -> Subscriber | HTMLResponse:
        """The owner of the link, if the form passes its CSRF check. If its cookie check fails,
        ``again(owner, reason)`` is the page once more with what was sent (for the link's owner
        only: a link that names nobody gets its own page)."""

        def kept(reason: str) -> HTMLResponse:
            subscriber = owner(request, token)
            if isinstance(subscriber, HTMLResponse):
                return subscriber
            return again(subscriber, reason)

        return site.check_form(request, csrf, kept) or owner(request, token)

    def show(
        request: Request,
        token: str,
        subscriber: Subscriber,
        *,
        status: int = 200,
        flash: str = "",
        editing: ProfileForm | None = None,
        settings_error: str = "",
        settings_form: dict[str, str] | None = None,
        examples: dict[str, str] | None = None,
        announce: bool = False,  # the settings were just saved: the flash says the next digest
        refused: str = "",  # why a post was not accepted (its form shows what was sent)
        status_error: str = "",
        said_error: tuple[str, str] = ("", ""),  # (the undo that was sent, why not done)
    ) -> HTMLResponse:
        forms = []
        stored = site.people.profiles(subscriber.id)
        if editing is not None and editing.original not in {"", *(p.name for p in stored)}:
            # The profile it edited is gone (renamed or removed in another tab): what was typed
            # comes back in the "add a profile" form rather than nowhere.
            gone = (
                f"The profile {editing.original[:100]!r} is no longer there: sending this adds it."
            )
            editing = replace(editing, original="", error=f"{editing.error} {gone}".strip())
        for p in stored:
            if editing is not None and editing.original == p.name:
                forms.append(replace(editing, profile_id=p.id))
                continue
            feed_url = site.links.feed(subscriber.link_key, p.id)
            said = tuple(feedback.entries(p.id))
            forms.append(
                ProfileForm(
                    p.name,
                    p.name,
                    p.query,
                    feed_url=feed_url,
                    said=said,
                    closeness=p.closeness,
                    semantic=needs_meaning([p.query]),
                    profile_id=p.id,
                )
            )
        adding = editing if editing is not None and not editing.original else None
        forms.append(adding or ProfileForm("", "", ""))
        coming = next_digest(subscriber, stored)
        if announce and coming:
            flash = f"{flash} Next digest: {coming}."
        return site.page(
            request,
            "manage",
            status,
            title="Your digest",
            subscriber=subscriber,
            status_label=STATUS_LABEL.get(subscriber.status, subscriber.status),
            flash=flash,
            refused=refused,
            status_error=status_error,
            said_error=said_error,
            profiles=forms,
            base=path(Purpose.MANAGE, token),
            form=settings_form or _settings_form(subscriber),
            settings_error=settings_error,
            link_days=(MAX_AGE[Purpose.MANAGE] or 0) // (24 * 3600),
            examples=examples or {"name": "", "ids": "", "error": ""},
            next_digest=coming,
            past=[
                _past(d, local(site.links.archive(subscriber.link_key, d.period)))
                for d in digests.past(subscriber.id)
            ],
            rate=_rater(site.links.paper_feedback(subscriber.link_key)),
            delete_url=f"{path(Purpose.MANAGE, token)}/delete",
        )

    def next_digest(subscriber: Subscriber, stored: Sequence[Profile]) -> str:
        """ "Friday 3 July at 08:00 (Europe/London time)", or "" if none is coming."""
        if subscriber.status != Status.ACTIVE or not stored:
            return ""
        period = digests.latest_period(subscriber.id)
        coming = upcoming(timing(subscriber), period, site.clock())
        return f"{coming.label} ({subscriber.time_zone} time)"

    def move_closeness(subscriber: Subscriber, name: str, move: int) -> int:
        """One step broader or narrower for this profile, stored with the model in use."""
        semantics = site.context.semantics
        if semantics is None:
            raise InputError("matching by meaning is not available on this server")
        model = semantics.model_id
        stored = next((p for p in site.people.profiles(subscriber.id) if p.name == name), None)
        if stored is None:
            raise InputError(f"no profile named {name!r}")
        was = stored.closeness if stored.closeness_model in (None, model) else 0
        step = max(-MAX_CLOSENESS, min(MAX_CLOSENESS, was + move))
        site.people.set_closeness(subscriber.email, name, step, model, site.clock())
        return step

    def add(subscriber: Subscriber, profile: NewProfile, now: datetime) -> None:
        """Add ``profile``; the store refuses one past MAX_PROFILES (counted in its write),
        said here in the page's words."""
        try:
            site.people.add_profile(subscriber.email, profile, now)
        except TooManyProfiles as e:
            raise InputError(
                f"at most {MAX_PROFILES} profiles",
                hint="remove one first, or join two with OR",
            ) from e

    def back(token: str, what: str) -> Response:
        return RedirectResponse(
            f"{path(Purpose.MANAGE, token)}?saved={what}", status_code=303, headers=SECURITY_HEADERS
        )

    @router.get("/m/{token}")
    def manage_page(request: Request, token: str, saved: str = "") -> HTMLResponse:
        subscriber = owner(request, token)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        flash = FLASH.get(saved, "")
        return show(request, token, subscriber, flash=flash, announce=saved == "settings")

    @router.post("/m/{token}/profiles")
    def save_profile(
        request: Request,
        token: str,
        csrf: str = Form(""),
        original: str = Form(""),
        name: str = Form(""),
        query: str = Form(""),
        action: str = Form("save"),
    ) -> Response:
        def again(subscriber: Subscriber, why: str) -> HTMLResponse:
            typed = ProfileForm(original, name, query, error=KEPT)
            return show(request, token, subscriber, status=403, editing=typed, refused=why)

        subscriber = posted(request, token, csrf, again)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        now = site.clock()
        if action in ("preview", "broader", "narrower") and not site.may_ask_meaning(
            site.client_ip(request), query
        ):
            return site.message(
                "Too many previews",
                "Previews with about: or like: from this network are limited for now.",
                status=429,
                hint="wait a minute and try again",
            )
        try:
            if action == "remove" and original:
                site.people.remove_profile(subscriber.email, original)
                return back(token, "removed")  # the page warns if it was the last one
            if action in ("broader", "narrower") and original:
                step = move_closeness(subscriber, original, -1 if action == "broader" else 1)
                typed = ProfileForm(
                    original,
                    name,
                    query,
                    preview=preview(
                        site.papers, query, now, semantics=site.context.semantics, closeness=step
                    ),
                    closeness=step,
                    semantic=True,
                )
                flash = f"Closeness saved: {typed.closeness_text}."
                return show(request, token, subscriber, editing=typed, flash=flash)
            if action == "preview":
                stored = next(
                    (p for p in site.people.profiles(subscriber.id) if p.name == original), None
                )
                step = stored.closeness if stored is not None else 0
                shown = preview(
                    site.papers, query, now, semantics=site.context.semantics, closeness=step
                )
                semantic = needs_meaning([query]) and stored is not None
                typed = ProfileForm(
                    original, name, query, preview=shown, closeness=step, semantic=semantic
                )
                return show(request, token, subscriber, editing=typed)
            errors: dict[str, str] = {}
            profile = attempt(errors, "query", lambda: rules.profile(name or "papers", query))
            if profile is None:
                typed = ProfileForm(original, name, query, error=errors["query"])
                return show(request, token, subscriber, status=400, editing=typed)
            if original:
                site.people.edit_profile(subscriber.email, original, profile, now)
            else:
                add(subscriber, profile, now)
        except InputError as e:  # a name taken twice, a profile removed meanwhile
            typed = ProfileForm(original, name, query, error=e.message)
            return show(request, token, subscriber, status=400, editing=typed)
        return back(token, "profile")

    @router.post("/m/{token}/settings")
    def save_settings(
        request: Request,
        token: str,
        csrf: str = Form(""),
        time: str = Form(""),
        zone: str = Form(""),
        frequency: str = Form(""),
        weekday: str = Form("mon"),
        max_papers: str = Form(""),
        send_empty: str = Form(""),
        thumbnails: str = Form(""),  # an unticked box sends nothing: no thumbnails
    ) -> Response:
        typed = {
            "time": time,
            "zone": zone,
            "frequency": frequency,
            "weekday": weekday,
            "max_papers": max_papers,
            "send_empty": send_empty,
            "thumbnails": thumbnails,
        }

        def again(subscriber: Subscriber, why: str) -> HTMLResponse:
            return show(
                request,
                token,
                subscriber,
                status=403,
                refused=why,
                settings_error=KEPT,
                settings_form=typed,
            )

        subscriber = posted(request, token, csrf, again)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        errors: dict[str, str] = {}
        chosen = attempt(
            errors,
            "settings",
            lambda: rules.settings(
                zone=zone,
                hour=time,
                every=frequency,
                day=weekday,
                limit=_count(max_papers),
                send_empty=bool(send_empty),
            ),
        )
        if chosen is None:
            return show(
                request,
                token,
                subscriber,
                status=400,
                settings_error=errors["settings"],
                settings_form=typed,
            )
        chosen = replace(chosen, thumbnails=bool(thumbnails))
        site.people.update_settings(subscriber.email, chosen, site.clock())
        return back(token, "settings")

    @router.post("/m/{token}/status")
    def change_status(
        request: Request, token: str, csrf: str = Form(""), action: str = Form("")
    ) -> Response:
        def again(subscriber: Subscriber, why: str) -> HTMLResponse:
            asked = ACTION_TEXT[Action(action)] if action in ACTION_TEXT else ""
            note = f"Not done yet: you asked to {asked}; press the button again." if asked else ""
            return show(request, token, subscriber, status=403, refused=why, status_error=note)

        subscriber = posted(request, token, csrf, again)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        wanted = None
        # Not for a sign-up yet to confirm, nor for an address that bounces.
        if action in ACTION_TEXT and subscriber.status not in (Status.PENDING, Status.BOUNCED):
            with suppress(InputError):  # a move the status does not allow: nothing changes
                wanted = transition(subscriber.status, Action(action))
        if wanted is None:
            return site.message(
                "Nothing changed",
                f"This digest is {STATUS_LABEL[subscriber.status]}.",
                status=400,
            )
        changed = site.people.set_status(subscriber.email, wanted, site.clock())
        if wanted == Status.UNSUBSCRIBED:  # the link key rotated: this page's link is dead now
            return unsubscribed(site, changed)
        return back(token, action)

    @router.post("/m/{token}/feedback")
    def undo_feedback(
        request: Request, token: str, csrf: str = Form(""), undo: str = Form("")
    ) -> Response:
        """Undo one "More like this" / "Not interested" (``undo`` is "PROFILE_ID ARXIV_ID")."""

        def again(subscriber: Subscriber, why: str) -> HTMLResponse:
            note = (undo, "Not done yet: press Undo again.")
            return show(request, token, subscriber, status=403, refused=why, said_error=note)

        subscriber = posted(request, token, csrf, again)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        profile, _, arxiv_id = undo.partition(" ")
        owned = {str(p.id) for p in site.people.profiles(subscriber.id)}
        if profile in owned:  # a profile removed meanwhile took its feedback with it
            feedback.undo(int(profile), arxiv_id)
        return back(token, "undone")

    @router.post("/m/{token}/examples")
    def start_from_examples(
        request: Request,
        token: str,
        csrf: str = Form(""),
        name: str = Form(""),
        ids: str = Form(""),
    ) -> Response:
        """A new profile from pasted arXiv ids: its query is ``like:ID,ID,...``."""

        def again(subscriber: Subscriber, why: str) -> HTMLResponse:
            typed = {"name": name, "ids": ids[:2000], "error": KEPT}
            return show(request, token, subscriber, status=403, refused=why, examples=typed)

        subscriber = posted(request, token, csrf, again)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        errors: dict[str, str] = {}
        profile = attempt(
            errors,
            "ids",
            lambda: rules.profile(name or "examples", example_query(_some(example_ids(ids)))),
        )
        if profile is not None:
            try:
                add(subscriber, profile, site.clock())
            except InputError as e:  # the name is taken, or no room for another profile
                errors["ids"] = e.message
        if errors:
            typed = {"name": name, "ids": ids[:2000], "error": errors["ids"]}
            return show(request, token, subscriber, status=400, examples=typed)
        return back(token, "examples")

    return router


def local(url: str) -> str:
    """A link of ours as a path on this site (the page may be served under another host)."""
    parts = urlsplit(url)
    return parts._replace(scheme="", netloc="").geturl()


def _rater(feedback: Callable[[int, str], str]) -> Callable[[int, str], str]:
    """The path of one paper's "More like this" / "Not interested" page for a profile."""
    return lambda profile_id, arxiv_id: local(feedback(profile_id, arxiv_id))


def _past(d: PastDigest, url: str) -> dict[str, object]:
    return {
        "subject": d.subject,
        "url": url,
        "sent": f"{d.created_at.day} {d.created_at:%B %Y}",
        "papers": d.shown if d.kind == DigestKind.PAPERS else 0,
    }


def _some(ids: tuple[str, ...]) -> tuple[str, ...]:
    if not ids:
        raise InputError("paste at least one arXiv id", hint="for example 2401.00001")
    return ids


def _settings_form(s: Subscriber) -> dict[str, str]:
    return {
        "time": f"{s.send_hour:02d}:{s.send_minute:02d}",
        "zone": s.time_zone,
        "frequency": s.frequency,
        "weekday": WEEKDAYS[s.weekday],
        "max_papers": str(s.max_papers),
        "send_empty": "1" if s.send_empty else "",
        "thumbnails": "1" if s.thumbnails else "",
    }


def _count(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InputError(f"maximum papers {text.strip()!r} is not a number") from None
