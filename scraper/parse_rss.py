"""Parse a third-party RSS feed built from Hugging Face's data (python-feedgen style) into papers.

Hugging Face has no feed of its own; mirrors such as huangboming/huggingface-daily-paper-feed
publish one item per paper with the authors, upvotes and abstract in the description's HTML.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XMLParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from selectolax.lexbor import LexborHTMLParser

from base.errors import ParseError
from scraper import fields
from scraper.models import ParsedPage, ParsePath, ScrapedPaper

_ARXIV_LINK = re.compile(r"^https?://(?:www\.)?arxiv\.org/abs/(.+?)(?:v\d+)?/?$")
_HF_HOST = "huggingface.co"  # thumbnails come from its CDN (cdn-thumbnails.huggingface.co)
_LABELLED = re.compile(r"^(Authors|Upvotes|Summary):\s*(.*)$", re.DOTALL)


def parse_feed(body: str | bytes, source: str) -> ParsedPage:
    """Papers from an RSS 2.0 feed; an item that does not name an arXiv paper is a ParseError."""
    try:
        root = fromstring(body)  # defusedxml: no entity expansion, no external entities
    except (XMLParseError, DefusedXmlException) as e:
        raise ParseError(
            source, "", f"not a well-formed RSS feed ({fields.clip(str(e), 200)})"
        ) from e
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise ParseError(source, root.tag, "expected <rss><channel>")
    papers = tuple(_item(item, f"item[{i}]", source) for i, item in enumerate(channel.iter("item")))
    return ParsedPage(papers=papers, path=ParsePath.FEED)


def _item(item: Element, where: str, source: str) -> ScrapedPaper:
    link = (item.findtext("link") or "").strip()
    match = _ARXIV_LINK.match(link)
    arxiv_id = fields.arxiv_id(match.group(1)) if match else None
    title = fields.clean_text(item.findtext("title") or "", fields.MAX_TITLE)
    if arxiv_id is None:
        raise ParseError(source, f"{where}.link", f"not an arXiv paper link: {_shown(link)}")
    if not title:
        raise ParseError(source, f"{where}.title", "the item has no title")
    labelled = _labelled(item.findtext("description") or "")
    names = (fields.clean_text(a, fields.MAX_NAME) for a in labelled.get("Authors", "").split(","))
    every = tuple(name for name in names if name)
    published = (item.findtext("pubDate") or "").strip()
    try:
        published_at = fields.instant(published) if published else None
    except ValueError as e:
        raise ParseError(source, f"{where}.pubDate", f"not a date: {_shown(published)}") from e
    return ScrapedPaper(
        arxiv_id=arxiv_id,
        title=title,
        upvotes=fields.count(labelled.get("Upvotes", "")),
        summary=fields.clip(labelled.get("Summary", ""), fields.MAX_ABSTRACT) or None,
        authors=every[: fields.MAX_AUTHORS],
        author_count=len(every),
        published_at=published_at,
        thumbnail=labelled.get("thumbnail"),
    )


def _shown(value: str) -> str:
    """A scraped value quoted in an error message, cut short (a hostile feed's link or date may
    be a megabyte: the message is stored in the fetch row, printed and logged)."""
    return fields.clip(repr(value[:200]), 80)


def _labelled(description: str) -> dict[str, str]:
    """The description's "<b>Label:</b> value" paragraphs, and the thumbnail image."""
    tree = LexborHTMLParser(description)
    found: dict[str, str] = {}
    for p in tree.css("p"):
        match = _LABELLED.match(fields.clean_text(p.text(deep=True)))
        if match:
            found[match.group(1)] = match.group(2).strip()
    img = tree.css_first("img[src]")
    thumbnail = fields.web_url(img.attributes.get("src")) if img is not None else None
    if thumbnail and _from_hugging_face(thumbnail):
        found["thumbnail"] = thumbnail
    return found


def _from_hugging_face(url: str) -> bool:
    """Whether an image is Hugging Face's own (https, huggingface.co or a subdomain). A digest
    shows each paper's thumbnail: one from anywhere else would let the feed's author see every
    digest opened (who, when, from where), a tracking pixel in each subscriber's mail."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    return parts.scheme == "https" and (host == _HF_HOST or host.endswith("." + _HF_HOST))
