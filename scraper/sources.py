"""The lists Paperboy can fetch, and the API and page URLs each one lives at."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from ipaddress import ip_address
from urllib.parse import urlsplit

from scraper.models import View

API_PAGE_SIZE = 100  # /api/daily_papers accepts limit 1..100
SEARCH_LIMIT = 120  # /api/papers/search accepts limit 1..120
MAX_QUERY_LENGTH = 250  # the site's search box maxlength
MAX_FEED_URL = 2000
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$", re.ASCII)  # "٢٠٢٦" is no year for the site
_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.ASCII)  # a DNS label


@dataclass(frozen=True, slots=True)
class Source:
    """One list on Hugging Face Papers. ``period`` is None for "the latest day"."""

    view: View
    period: str | None = None
    query: str | None = None

    @property
    def label(self) -> str:
        if self.view is View.SEARCH:
            return f"search {self.query!r}"
        if self.view is View.FEED:
            return "feed"
        return f"{self.view.value} {self.period or 'latest'}"

    @property
    def paginated(self) -> bool:
        return self.view not in (View.SEARCH, View.FEED)

    def api_request(self) -> tuple[str, dict[str, str | int]]:
        """Path and query parameters of the JSON API answer for this list."""
        if self.view is View.SEARCH:
            return "/api/papers/search", {"q": self.query or "", "limit": SEARCH_LIMIT}
        params: dict[str, str | int] = {"limit": API_PAGE_SIZE}
        if self.view is View.TRENDING:
            params["sort"] = "trending"
        elif self.period is not None:
            params[{View.DAY: "date", View.WEEK: "week", View.MONTH: "month"}[self.view]] = (
                self.period
            )
        return "/api/daily_papers", params

    def page_request(self) -> tuple[str, dict[str, str | int]]:
        """Path and query parameters of the HTML page for this list."""
        if self.view is View.SEARCH:
            return "/papers", {"q": self.query or ""}
        if self.view is View.TRENDING:
            return "/papers/trending", {}
        if self.period is None:
            return "/papers", {}
        return f"/papers/{'date' if self.view is View.DAY else self.view.value}/{self.period}", {}


def day(value: date | None = None) -> Source:
    return Source(View.DAY, value.isoformat() if value else None)


def week(value: str) -> Source:
    """An ISO week, ``YYYY-Www``; raises ValueError for anything else."""
    match = _WEEK.match(value.strip())
    if not match or not 1 <= int(match.group(2)) <= 53:
        raise ValueError(f"week {value!r} is not an ISO week like 2026-W27")
    date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)  # rejects W53 in short years
    return Source(View.WEEK, value.strip())


def month(value: str) -> Source:
    """A month, ``YYYY-MM``; raises ValueError for anything else."""
    match = _MONTH.match(value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"month {value!r} is not a month like 2026-07")
    return Source(View.MONTH, value.strip())


def trending() -> Source:
    return Source(View.TRENDING)


def feed() -> Source:
    """The third-party feed the settings name (scraper/feed.py fetches it, not Hugging Face)."""
    return Source(View.FEED)


def search(query: str) -> Source:
    """A keyword search; the query is whitespace-collapsed and must fit the site's 250 chars."""
    cleaned = " ".join(query.split())
    if not cleaned:
        raise ValueError("the search query is empty")
    if len(cleaned) > MAX_QUERY_LENGTH:
        raise ValueError(f"the search query is longer than {MAX_QUERY_LENGTH} characters")
    return Source(View.SEARCH, cleaned.lower(), cleaned)


def feed_origin(url: str) -> tuple[str, str]:
    """``(origin, path with query)`` of a feed URL; ValueError says what is wrong with it."""
    text = url.strip()
    if len(text) > MAX_FEED_URL:
        raise ValueError(f"the feed URL is longer than {MAX_FEED_URL} characters")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text[:200]!r} is not an http(s) URL like https://example.org/feed.xml")
    if parts.username or parts.password:
        raise ValueError("the feed URL must not carry a user name or password")
    try:
        port = parts.port  # ValueError: not a number, or out of range
    except ValueError as e:
        raise ValueError(f"the feed URL's port is not a port from 1 to 65535 ({e})") from None
    if port == 0:
        raise ValueError("the feed URL's port is not a port from 1 to 65535")
    _check_host(parts.hostname)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"{parts.scheme}://{parts.netloc}", path


def _check_host(host: str) -> None:
    """ValueError unless ``host`` is an IP address or a DNS name (IDN allowed) that can be
    looked up: letters, digits, hyphens and underscores, labels of 1 to 63 characters."""
    try:
        ip_address(host)
        return
    except ValueError:
        pass
    try:
        ascii_name = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        ascii_name = ""
    if (
        not ascii_name
        or len(ascii_name) > 253
        or not all(map(_LABEL.fullmatch, ascii_name.split(".")))
    ):
        raise ValueError(f"the feed URL's host {host[:100]!r} is not a host name or an IP address")
