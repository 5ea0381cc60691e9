"""Public pages: the recent papers with a search box over the stored ones, and an Atom feed per
profile (its signed URL is the key).

The recent papers come from the shelf kept in memory (paperboy.web.library) and the page is
rendered once per change: a fetch recorded, or a paper leaving or entering the week.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast
from xml.etree import ElementTree

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from paperboy.digest import paper_entry
from paperboy.links import FeedLink
from paperboy.profiles.matcher import Match
from paperboy.tokens import Purpose, TokenError
from paperboy.web.library import Shelf, library_for
from paperboy.web.preview import Preview, matches, search
from paperboy.web.security import SECURITY_HEADERS
from paperboy.web.site import Site
from store.types import Paper, PaperFilter

RECENT_DAYS = 7
RECENT_SHOWN = 50
FEED_DAYS = 30
FEED_ENTRIES = 50
ATOM = "http://www.w3.org/2005/Atom"


def routes(site: Site) -> APIRouter:
    router = APIRouter()

    page = RecentPage(site)

    @router.get("/")
    async def recent(request: Request, q: str = "") -> HTMLResponse:
        """The week's most upvoted papers; with ``q``, the stored papers that match it.

        Served on the event loop when the page is kept and the shelf known current; anything
        that may read the database runs in a worker thread.
        """
        now = site.clock()
        if q.strip():
            ip = site.client_ip(request)
            return await asyncio.to_thread(lambda: _searched(site, q, now, ip))
        html = page.kept(now) or await asyncio.to_thread(page.render, now)
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    @router.get("/f/{token}")
    def feed(request: Request, token: str) -> Response:
        """The papers one profile matched in the last 30 days, newest first, as Atom."""
        try:
            link, subscriber = site.open(FeedLink, token)
        except TokenError as e:
            return site.refused(e)
        profile = next(
            (p for p in site.people.profiles(subscriber.id) if p.id == link.profile_id), None
        )
        if profile is None:
            return site.message(
                "No such feed", "This profile was removed or renamed away.", status=404
            )
        now = site.clock()
        recent = site.papers.papers_seen_between(now - timedelta(days=FEED_DAYS), now)
        found = sorted(
            matches(profile.query, recent),
            key=lambda m: cast(Paper, m.paper).first_seen_at,
            reverse=True,
        )[:FEED_ENTRIES]
        xml = _atom(site.links.at(Purpose.FEED, token), f"Paperboy: {profile.name}", now, found)
        headers = {**SECURITY_HEADERS, "Cache-Control": "private, max-age=900"}
        return Response(xml, media_type="application/atom+xml; charset=utf-8", headers=headers)

    return router


class RecentPage:
    """The recent-papers page, rendered once per shelf, window and day."""

    def __init__(self, site: Site) -> None:
        self._site = site
        self._kept: tuple[object, bytes] = (None, b"")

    def kept(self, now: datetime) -> bytes | None:
        """The page, if it is kept and still right (without asking the database)."""
        shelf = library_for(self._site.papers).known(now)
        if shelf is None or not shelf.covers(now - timedelta(days=RECENT_DAYS)):
            return None
        key, html = self._kept
        return html if key == self._key(shelf, now) else None

    def render(self, now: datetime) -> bytes:
        since = now - timedelta(days=RECENT_DAYS)
        shelf = library_for(self._site.papers).shelf(now)
        if not shelf.covers(since):  # more papers in a week than the shelf keeps
            where = PaperFilter(seen_since=since, limit=RECENT_SHOWN)
            return bytes(_recent(self._site, self._site.papers.list_papers(where), since).body)
        key, html = self._kept
        if key != self._key(shelf, now):
            window = shelf.between(since, now)
            papers = sorted(shelf.papers[window.start : window.stop], key=_most_upvoted)
            html = bytes(_recent(self._site, papers[:RECENT_SHOWN], since).body)
            self._kept = (self._key(shelf, now), html)
        return html

    @staticmethod
    def _key(shelf: Shelf, now: datetime) -> object:
        since = now - timedelta(days=RECENT_DAYS)
        return shelf.key, shelf.between(since, now), since.date()


def _recent(site: Site, papers: Sequence[Paper], since: datetime) -> HTMLResponse:
    return site.render(
        "papers",
        title="Recent papers",
        entries=[paper_entry(p) for p in papers],
        days=RECENT_DAYS,
        since=since.strftime("%d %B %Y"),
        query="",
    )


def _searched(site: Site, q: str, now: datetime, ip: str) -> HTMLResponse:
    """A search; one that asks meaning (about:, like:: model time for each new topic text, and
    its vector stored) counts under the previews' per-network limit."""
    if not site.may_ask_meaning(ip, q):
        return site.message(
            "Too many searches",
            "Searches with about: or like: from this network are limited for now.",
            status=429,
            hint="wait a minute and try again; plain word searches still work",
        )
    return _found(site, search(site.papers, q, now, semantics=site.context.semantics))


def _found(site: Site, found: Preview) -> HTMLResponse:
    """The search's answer: the matches, or the query's error with its column marked."""
    return site.render(
        "papers",
        status=400 if found.error else 200,
        title=f"Search: {found.query}" if found.query else "Search",
        entries=found.entries,
        query=found.query,
        found=found,
        searched_since=found.since.strftime("%d %B %Y") if found.since else "",
    )


def _most_upvoted(paper: Paper) -> tuple[int, str]:
    return -paper.upvotes, paper.arxiv_id  # the order of list_papers


def _atom(self_url: str, title: str, now: datetime, found: Sequence[Match]) -> bytes:
    """An Atom 1.0 document; ElementTree escapes every scraped string."""
    ElementTree.register_namespace("", ATOM)

    def sub(
        parent: ElementTree.Element, tag: str, text: str = "", **attrs: str
    ) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text:
            element.text = text
        return element

    root = ElementTree.Element(f"{{{ATOM}}}feed")
    sub(root, "id", self_url)
    sub(root, "title", title)
    sub(root, "updated", _instant(now))
    sub(root, "link", rel="self", href=self_url)
    sub(sub(root, "author"), "name", "Paperboy")
    for match in found:
        paper = cast(Paper, match.paper)
        shown = paper_entry(paper, match.hits)
        item = sub(root, "entry")
        sub(item, "id", shown.hf_url)
        sub(item, "title", shown.title)
        sub(item, "updated", _instant(paper.first_seen_at))
        sub(item, "link", rel="alternate", href=shown.hf_url)
        sub(item, "link", rel="related", href=shown.arxiv_url)
        for name in paper.authors[:10]:
            sub(sub(item, "author"), "name", name)
        if shown.blurb:
            sub(item, "summary", shown.blurb)
    document: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
