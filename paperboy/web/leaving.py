"""Leaving and coming back: the page that says a reader is unsubscribed, its undo for a week,
and "delete my data" (the manage page's way to erase everything, as
``paperboy subscriber remove --forget`` does), each behind a confirmation.

Unsubscribing rotates the link key (every link mailed so far dies), so the undo rides on a fresh
unsubscribe link made for the new key when the page is shown: nothing mailed before can undo.
Its GET shows a button and changes nothing; the POST (CSRF-checked) subscribes again if the
unsubscription is less than ``UNDO_DAYS`` old.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime, timedelta

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from paperboy.errors import InputError
from paperboy.links import ManageLink, UnsubscribeLink, path
from paperboy.subscribers import Action, Status, transition
from paperboy.tokens import MAX_AGE, Purpose, TokenError, TokenExpired, revoked
from paperboy.web.site import Site, schedule_text
from store.types import Subscriber

UNDO_DAYS = 7


def manage_owner(site: Site, request: Request, token: str) -> Subscriber | HTMLResponse:
    """The subscriber a manage link names, or the page to show instead (expired: a fresh one)."""
    try:
        _, subscriber = site.open(ManageLink, token)
    except TokenError as e:
        if isinstance(e, TokenExpired):
            days = (MAX_AGE[Purpose.MANAGE] or 0) // (24 * 3600)
            return site.page(
                request,
                "link",
                400,
                title="This link has expired",
                text=f"Links to your settings work for {days} days.",
            )
        return site.refused(e)
    return subscriber


def can_undo(subscriber: Subscriber, now: datetime) -> bool:
    """Unsubscribed less than a week ago."""
    since = subscriber.unsubscribed_at
    return (
        subscriber.status == Status.UNSUBSCRIBED
        and since is not None
        and now - since < timedelta(days=UNDO_DAYS)
    )


def unsubscribed(site: Site, subscriber: Subscriber, *, undo: bool = True) -> HTMLResponse:
    """The page saying ``subscriber`` (as stored after unsubscribing: the new key) is
    unsubscribed, with the undo while it may be used. It sets no cookie: it answers the
    RFC 8058 one-click post too."""
    offer = undo and can_undo(subscriber, site.clock())
    return site.render(
        "unsubscribe",
        title="Unsubscribed",
        email=subscriber.email,
        done=True,
        undo_url=_undo_path(site, subscriber) if offer else "",
        undo_days=UNDO_DAYS,
    )


def _undo_path(site: Site, subscriber: Subscriber) -> str:
    token = site.links.unsubscribe(subscriber.link_key).rsplit("/", 1)[1]
    return f"{path(Purpose.UNSUBSCRIBE, token)}/undo"


def routes(site: Site) -> APIRouter:
    router = APIRouter()

    def undoable(token: str) -> Subscriber | HTMLResponse:
        try:
            link, subscriber = site.open(UnsubscribeLink, token)
        except TokenError as e:
            return site.refused(e)
        if link.ref.legacy_id is not None:  # only the link made at unsubscribing undoes it
            return site.refused(revoked())
        if subscriber.status in (Status.ACTIVE, Status.PAUSED):
            return site.message(
                "You are still subscribed",
                f"Paperboy mails {subscriber.email} {schedule_text(subscriber)}.",
            )
        if not can_undo(subscriber, site.clock()):
            return site.message(
                "It is too late to undo",
                f"An unsubscription can be undone for {UNDO_DAYS} days.",
                status=410,
                hint="sign up again: it takes one confirmation mail",
                link=("Sign up again", "/signup"),
            )
        return subscriber

    def undo_form(request: Request, token: str, refused: str = "") -> HTMLResponse:
        """The button (again, with why, when a post's cookie check failed); changes nothing."""
        subscriber = undoable(token)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        return site.page(
            request,
            "undo",
            403 if refused else 200,
            title="Subscribe again?",
            email=subscriber.email,
            schedule=schedule_text(subscriber),
            refused=refused,
        )

    @router.get("/u/{token}/undo")
    def undo_page(request: Request, token: str) -> HTMLResponse:
        return undo_form(request, token)

    @router.post("/u/{token}/undo")
    def undo(request: Request, token: str, csrf: str = Form("")) -> HTMLResponse:
        refused = site.check_form(request, csrf, lambda why: undo_form(request, token, why))
        subscriber = refused or undoable(token)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        back = site.people.set_status(
            subscriber.email, transition(subscriber.status, Action.UNDO), site.clock()
        )
        return site.message(
            "You are subscribed again",
            f"Paperboy will mail {back.email} {schedule_text(back)}.",
            hint="the links in earlier digests no longer work; the next digest brings new ones",
        )

    def delete_form(request: Request, token: str, refused: str = "") -> HTMLResponse:
        """Says what goes and shows the button (again, with why, when a post's cookie check
        failed); changes nothing."""
        subscriber = manage_owner(site, request, token)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        return site.page(
            request,
            "delete",
            403 if refused else 200,
            title="Delete your data",
            email=subscriber.email,
            profiles=len(site.people.profiles(subscriber.id)),
            base=path(Purpose.MANAGE, token),
            refused=refused,
        )

    @router.get("/m/{token}/delete")
    def delete_page(request: Request, token: str) -> HTMLResponse:
        return delete_form(request, token)

    @router.post("/m/{token}/delete")
    def delete(request: Request, token: str, csrf: str = Form("")) -> HTMLResponse:
        refused = site.check_form(request, csrf, lambda why: delete_form(request, token, why))
        subscriber = refused or manage_owner(site, request, token)
        if isinstance(subscriber, HTMLResponse):
            return subscriber
        with suppress(InputError):  # erased meanwhile, from another tab: the same outcome
            site.people.forget(subscriber.email)
        return site.message(
            "Your data is deleted",
            f"Paperboy no longer keeps {subscriber.email}, its profiles, ratings or digests.",
            hint="the links in the digests you got no longer work; you can sign up again any time",
            link=("Back to the recent papers", "/"),
        )

    return router
