"""Sign-up with double opt-in, its confirmation, "mail me a fresh link", and the query preview.

The answer to a sign-up or a link request is the same page, after the same work, whatever the
address is (no enumeration): the request validates, rate-limits and hands the job to the page mail
queue (paperboy.web.outgoing). Off the request, the queue looks the address up, records the
sign-up and sends what differs: a confirmation for a new, pending or unsubscribed address, a
manage link for one already subscribed, nothing for a bounced one.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from mailer.types import Envelope
from paperboy import subscribers as rules
from paperboy.errors import InputError
from paperboy.feedback import example_ids, example_query
from paperboy.links import FRESH_LINK, ConfirmLink
from paperboy.subscribers import Action, Status, allows
from paperboy.tokens import MAX_AGE, Purpose, TokenError, TokenExpired, revoked
from paperboy.web.preview import preview
from paperboy.web.site import (
    Site,
    attempt,
    schedule_text,
)
from store.types import NewProfile, NewSubscriber, Subscriber, SubscriberSettings

FIRST_PROFILE = "papers"
QUOTED_CHARS = 200  # how much of a stranger's typing a page of ours quotes back
CONFIRM_DAYS = (MAX_AGE[Purpose.CONFIRM] or 0) // (24 * 3600)
BLANK = {
    "email": "",
    "query": "",
    "examples": "",
    "time": "08:00",
    "zone": "UTC",
    "frequency": rules.Frequency.DAILY,
    "weekday": "mon",
    "prefill_zone": "True",  # pages.js picks the browser's zone, if there is JavaScript
}


def quoted(text: str, limit: int = QUOTED_CHARS) -> str:
    """Text someone typed into a form, fit to quote as theirs: controls and invisible format
    characters (bidi overrides) out, whitespace collapsed, at most ``limit`` characters."""
    visible = "".join(c if c.isprintable() else " " for c in text)
    flat = " ".join(visible.split())
    return flat if len(flat) <= limit else flat[:limit].rstrip() + "\u2026"


def routes(site: Site) -> APIRouter:
    router = APIRouter()

    def form_page(
        request: Request, form: dict[str, str], errors: dict[str, str], status: int = 200
    ) -> HTMLResponse:
        return site.page(
            request,
            "signup",
            status,
            title="Sign up",
            form=form,
            errors=errors,
        )

    def expired(request: Request, token: str) -> HTMLResponse:
        """An expired confirmation link: the sign-up form again, to get a fresh one, with the
        address the link was mailed to (the signature is checked; the age is not)."""
        why = (
            f"This confirmation link has expired: links to confirm work for {CONFIRM_DAYS} days."
            " Sign up again below and we will mail you a fresh one."
        )
        return form_page(request, BLANK | {"email": _mailed_to(site, token)}, {"form": why}, 400)

    @router.get("/signup")
    def signup_page(request: Request) -> HTMLResponse:
        return form_page(request, BLANK, {})

    @router.post("/signup")
    def signup(
        request: Request,
        csrf: str = Form(""),
        email: str = Form(""),
        query: str = Form(""),
        examples: str = Form(""),
        time: str = Form("08:00"),
        zone: str = Form("UTC"),
        frequency: str = Form(rules.Frequency.DAILY),
        weekday: str = Form("mon"),
    ) -> HTMLResponse:
        form = {
            "email": email,
            "query": query,
            "examples": examples,
            "time": time,
            "zone": zone,
            "frequency": frequency,
            "weekday": weekday,
            "prefill_zone": "",  # the reader chose: keep it
        }

        def again(why: str) -> HTMLResponse:  # the cookie check failed: keep the typing
            return form_page(request, form, {"form": why}, 403)

        if refused := site.check_form(request, csrf, again):
            return refused
        errors: dict[str, str] = {}
        address = attempt(errors, "email", lambda: rules.normalise_email(email))
        ids = attempt(errors, "examples", lambda: _examples(examples))
        profile = attempt(errors, "query", lambda: _first_profile(query, ids or ()))
        chosen = attempt(
            errors,
            "schedule",
            lambda: rules.settings(zone=zone, hour=time, every=frequency, day=weekday),
        )
        if errors or address is None or profile is None or chosen is None:
            return form_page(request, form, errors, 400)
        if site.outbox is None:
            return _no_mail(site)
        if not site.allowed(request, address):
            return site.too_many()
        # Whatever the address is (new, pending, subscribed, bounced), the request does the same
        # work and gives the same answer; the queue finds out which mail, if any, goes out.
        if not site.outbox.submit(
            f"sign-up of {address}", lambda: _sign_up(site, address, chosen, profile)
        ):
            return _busy(site)
        return site.message(
            "Check your inbox",
            f"A message is on its way to {address}. Open the link in it to confirm your digest.",
            hint="Nothing arrives? Look in the spam folder; the link works for 3 days.",
        )

    @router.get("/c/{token}")
    def confirm_page(request: Request, token: str) -> HTMLResponse:
        """Shows a button; changes nothing (mail scanners follow links)."""
        subscriber = _waiting(site, token)
        if isinstance(subscriber, TokenExpired):
            return expired(request, token)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        return site.page(
            request,
            "confirm",
            title="Confirm",
            email=subscriber.email,
            schedule=schedule_text(subscriber),
            typed=[quoted(p.query) for p in site.people.profiles(subscriber.id)],
        )

    @router.post("/c/{token}")
    def confirm(request: Request, token: str, csrf: str = Form("")) -> HTMLResponse:
        subscriber = site.check_form(request, csrf) or _waiting(site, token)
        if isinstance(subscriber, TokenExpired):
            return expired(request, token)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        confirmed = site.people.confirm_pending(subscriber.link_key, site.clock())
        if confirmed is None:  # signed up again (the key rotated) since the page was shown
            return site.refused(revoked())
        return _confirmed(site, confirmed, already=False)

    @router.get("/preview")
    def preview_fragment(request: Request, q: str = "", compact: bool = False) -> HTMLResponse:
        """What a query would have matched in the last week (for pages.js; read-only)."""
        if not site.limiter.allow(preview=site.client_ip(request)):
            return site.too_many()
        shown = preview(
            site.papers,
            q[:2000],
            site.clock(),
            shown=5 if compact else 10,
            semantics=site.context.semantics,
        )
        return site.render("_preview", preview=shown, compact=compact)

    @router.get(FRESH_LINK)
    def link_page(request: Request) -> HTMLResponse:
        return site.page(request, "link", title="Get a fresh link", text="")

    @router.post(FRESH_LINK)
    def send_link(request: Request, csrf: str = Form(""), email: str = Form("")) -> HTMLResponse:
        def again(why: str) -> HTMLResponse:
            typed = email[:320]
            return site.page(
                request, "link", 403, title="Get a fresh link", text="", error=why, email=typed
            )

        if refused := site.check_form(request, csrf, again):
            return refused
        try:
            address = rules.normalise_email(email)
        except InputError as e:
            return site.message("That is not an email address", e.message, status=400)
        if site.outbox is None:
            return _no_mail(site)
        if not site.allowed(request, address):
            return site.too_many()
        if not site.outbox.submit(f"fresh link for {address}", lambda: _link(site, address)):
            return _busy(site)
        return site.message(
            "Check your inbox",
            f"If {address} gets Paperboy digests, a fresh link to its settings is on its way.",
        )

    return router


def _examples(pasted: str) -> tuple[str, ...]:
    """The example papers pasted on the form (none is fine), as a ``like:`` atom accepts them."""
    ids = example_ids(pasted)
    if ids:
        rules.profile(FIRST_PROFILE, example_query(ids))
    return ids


def _first_profile(query: str, ids: tuple[str, ...]) -> NewProfile:
    """The sign-up's profile: the typed query, papers like the examples, or either of them."""
    if not ids:
        return rules.profile(FIRST_PROFILE, query)
    if not query.strip():
        return rules.profile(FIRST_PROFILE, example_query(ids))
    typed = rules.profile(FIRST_PROFILE, query)  # its errors name the columns typed
    return rules.profile(FIRST_PROFILE, f"({typed.query}) OR {example_query(ids)}")


def _sign_up(
    site: Site, address: str, chosen: SubscriberSettings, profile: NewProfile
) -> list[Envelope]:
    """The queue's half of a sign-up: record it, and the mail its address gets (if any)."""
    assert site.mailer is not None
    now = site.clock()
    existing = site.people.get(address)
    if existing is None:
        try:
            new = site.people.add(NewSubscriber(address, Status.PENDING, chosen, (profile,)), now)
        except InputError:  # the same address signed up a moment ago, in another request
            existing = site.people.require(address)
        else:
            return [site.mailer.confirmation(new, profile.query, schedule_text(new))]
    if allows(existing.status, Action.SIGN_UP_AGAIN):  # pending or unsubscribed
        again = site.people.restart_signup(existing.id, chosen, (profile,), now)
        return [site.mailer.confirmation(again, profile.query, schedule_text(again))]
    if existing.status in (Status.ACTIVE, Status.PAUSED):
        return [site.mailer.manage_link(existing, already=True)]
    return []  # bounced: the address does not take our mail; the page said the same


def _link(site: Site, address: str) -> list[Envelope]:
    """The queue's half of "mail me a fresh link": one for a subscriber, nothing for others."""
    assert site.mailer is not None
    subscriber = site.people.get(address)
    if subscriber is None or subscriber.status in (Status.PENDING, Status.BOUNCED):
        return []
    return [site.mailer.manage_link(subscriber)]


def _waiting(site: Site, token: str) -> Subscriber | HTMLResponse | TokenExpired:
    """The pending sign-up a confirmation link names, or the page to show instead (expired:
    the route offers the sign-up form).

    The link names the sign-up's link key, which a later sign-up of the same address rotates:
    a link confirms exactly the sign-up its mail described, or nothing.
    """
    try:
        _, subscriber = site.open(ConfirmLink, token)
    except TokenExpired as e:
        return e
    except TokenError as e:
        return site.refused(e)
    if not allows(subscriber.status, Action.CONFIRM):  # confirmed already
        return _confirmed(site, subscriber, already=True)
    return subscriber


def _mailed_to(site: Site, token: str) -> str:
    """The address an expired confirmation link was mailed to, if it is genuine and its key
    still names a sign-up waiting to be confirmed (nothing for a forged link, nor once
    confirmed, paused, bounced, unsubscribed or erased: an old link, forwarded or leaked, must
    not tell whose it was)."""
    try:
        link = site.links.read_expired_confirm(token)
    except TokenError:
        return ""
    found = site.people.by_link_key(link.ref.link_key) if link.ref.link_key else None
    return found.email if found is not None and found.status == Status.PENDING else ""


def _confirmed(site: Site, subscriber: Subscriber, *, already: bool) -> HTMLResponse:
    """The answer to a confirmation: it only confirms (no settings link: mails get forwarded)."""
    return site.message(
        "You are already subscribed" if already else "You are subscribed",
        f"Paperboy will mail {subscriber.email} {schedule_text(subscriber)}.",
        hint="Every digest has a link to change your profiles and hour, or to unsubscribe.",
    )


def _busy(site: Site) -> HTMLResponse:
    """The page mail queue is full (a flood of sign-ups): the same for every address."""
    return site.message(
        "We are busy just now",
        "Too many mails are waiting to go out. Nothing was recorded: try again in a few minutes.",
        status=503,
    )


def _no_mail(site: Site) -> HTMLResponse:
    return site.message(
        "Sign-up is closed",
        "This Paperboy cannot send mail, so it cannot confirm addresses.",
        status=503,
        hint="the operator sets PAPERBOY_MAIL_TRANSPORT",
    )
