"""Parse a Hugging Face papers page: the DailyPapers data-props JSON first, then the cards."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from base.errors import ParseError
from scraper import fields
from scraper.models import ParsedPage, ParsePath, ScrapedPaper
from scraper.parse_json import load_json, parse_entries

_ISLAND = 'div[data-target="DailyPapers"]'
_AUTHOR_COUNT = re.compile(r"(\d{1,12})\s+authors?", re.ASCII)
_PAPER_HREF = re.compile(r"^/papers/([^/?#]+)$")


def parse_page(body: str | bytes, source: str) -> ParsedPage:
    """Papers from a list page (daily, weekly, monthly, trending, search).

    The island's JSON is complete (abstracts, dates, authors); the rendered cards are the fallback
    when the island is gone or unreadable. A page with neither, or with cards that all fail to
    parse, raises ParseError: zero papers from a page that has papers is never "nothing new".
    """
    tree = LexborHTMLParser(body if isinstance(body, str) else body.decode("utf-8", "replace"))
    island = tree.css_first(_ISLAND)
    props_error: ParseError | None = None
    if island is not None:
        try:
            return _from_props(island, source)
        except ParseError as e:
            props_error = e
    cards = tree.css("article")
    if not cards:
        if props_error is not None:
            raise props_error
        raise ParseError(source, "", "no DailyPapers data-props and no <article> paper cards")
    papers = _from_cards(cards, source)
    if not papers:
        raise ParseError(source, "article", f"{len(cards)} cards on the page but no paper in them")
    return ParsedPage(papers=papers, path=ParsePath.DOM)


def _from_props(island: LexborNode, source: str) -> ParsedPage:
    raw = island.attributes.get("data-props")
    where = f"{_ISLAND}[data-props]"
    if not raw:
        raise ParseError(source, where, "the DailyPapers island has no data-props")
    props = load_json(raw, source, where)  # selectolax has already decoded &quot; and &amp;
    if not isinstance(props, dict):
        raise ParseError(source, where, "data-props is not a JSON object")
    # The search page carries its hits in searchResults (next to an unrelated dailyPapers).
    key = "searchResults" if isinstance(props.get("searchResults"), list) else "dailyPapers"
    if key not in props:
        raise ParseError(source, where, "data-props has no 'dailyPapers' list")
    papers = parse_entries(props[key], f"{source} data-props {key}")
    # The day the page says it shows; anything but a real YYYY-MM-DD day is not a period.
    return ParsedPage(
        papers=papers, path=ParsePath.PROPS, period=fields.iso_day(props.get("dateString"))
    )


def _from_cards(cards: list[LexborNode], source: str) -> tuple[ScrapedPaper, ...]:
    # Trending renders each card twice (desktop and mobile layouts): keep the first of each id.
    papers: dict[str, ScrapedPaper] = {}
    for card in cards:
        paper = _card(card)
        if paper is not None and paper.arxiv_id not in papers:
            papers[paper.arxiv_id] = paper
    return tuple(papers.values())


def _card(card: LexborNode) -> ScrapedPaper | None:
    link = card.css_first('h3 a[href^="/papers/"]')
    if link is None:
        return None
    match = _PAPER_HREF.match(link.attributes.get("href") or "")
    arxiv_id = fields.arxiv_id(match.group(1)) if match else None
    title = fields.clean_text(link.text(deep=True), fields.MAX_TITLE)
    if arxiv_id is None or not title:
        return None
    names = (
        fields.clean_text(li.attributes.get("title") or "", fields.MAX_NAME)
        for li in card.css("li[title]")
    )
    authors = tuple(name for name in names if name)[: fields.MAX_AUTHORS]
    org_link = card.css_first("a span.truncate")
    org_anchor = org_link.parent if org_link is not None else None
    return ScrapedPaper(
        arxiv_id=arxiv_id,
        title=title,
        upvotes=_upvotes(card),
        authors=authors,
        author_count=_author_count(card) or len(authors),
        organization=fields.clean_text(org_link.text(), fields.MAX_NAME) or None
        if org_link is not None
        else None,
        organization_slug=_org_slug(org_anchor),
        submitter=_submitter(card),
        num_comments=_number(card.css_first('a[href$="#community"]')),
        github_stars=_stars(card, arxiv_id),
        thumbnail=_thumbnail(card),
        media_urls=tuple(
            url for v in card.css("video[src]") if (url := fields.web_url(v.attributes.get("src")))
        )[: fields.MAX_MEDIA],
    )


def _upvotes(card: LexborNode) -> int:
    # Logged out, the upvote box is a login link; the class names are the older, stabler anchor.
    for selector in (
        'a[href^="/login?next="] div.leading-none',
        "div.shadow-alternate .leading-none",
    ):
        node = card.css_first(selector)
        if node is not None:
            return _number(node)
    return 0


def _number(node: LexborNode | None) -> int:
    return fields.count(node.text(deep=True)) if node is not None else 0


def _author_count(card: LexborNode) -> int:
    for li in card.css("li"):
        found = _AUTHOR_COUNT.search(li.text(deep=True))
        if found:
            return fields.count(found.group(1))
    return 0


def _org_slug(anchor: LexborNode | None) -> str | None:
    href = (anchor.attributes.get("href") or "") if anchor is not None else ""
    slug = fields.clean_text(href.strip("/"), fields.MAX_NAME)
    return slug if slug and "/" not in slug and not href.startswith("/papers") else None


def _submitter(card: LexborNode) -> str | None:
    for div in card.css("div"):
        text = fields.clean_text(div.text(deep=True))
        if text.startswith("Submitted by "):
            return fields.clip(text.removeprefix("Submitted by ").strip(), fields.MAX_NAME) or None
    return None


def _stars(card: LexborNode, arxiv_id: str) -> int | None:
    span = card.css_first(f'a[href="/papers/{arxiv_id}"] > span')
    return fields.count(span.text()) if span is not None else None


def _thumbnail(card: LexborNode) -> str | None:
    img = card.css_first('img[src*="/social-thumbnails/"]')
    return fields.web_url(img.attributes.get("src")) if img is not None else None
