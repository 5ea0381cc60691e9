"""Field-level cleaning shared by every parser: ids, instants, URLs, counts and text."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime

# New-style arXiv ids (2007.01234, 2607.01071) and old-style ones (hep-th/9901001).
_ARXIV_ID = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})")
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_URL = re.compile(r"[\x00-\x20\x7f\"'<>\\^`{|}]")
_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")


def arxiv_id(value: object) -> str | None:
    """The id when it looks like an arXiv id (links are built from it), else None."""
    if isinstance(value, str) and _ARXIV_ID.fullmatch(value):
        return value
    return None


def clean_text(value: str) -> str:
    """Collapse whitespace (arXiv abstracts keep hard line breaks) and drop control characters."""
    return _WHITESPACE.sub(" ", _CONTROL.sub("", value)).strip()


def instant(value: str) -> datetime:
    """An ISO-8601 instant, a bare date, or an RFC 2822 date, as timezone-aware UTC.

    Raises ValueError for anything else.
    """
    text = value.strip()
    if "," in text:  # RSS pubDate: "Mon, 03 Aug 2026 02:05:52 +0000"
        parsed = parsedate_to_datetime(text)
    elif len(text) == 10:
        parsed = datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
    else:
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def web_url(value: object) -> str | None:
    """Keep only http(s) URLs made of URL characters: javascript:, data:, and anything with
    quotes, angle brackets or spaces in it never reaches a link."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith(("https://", "http://")) and not _NOT_URL.search(stripped):
            return stripped
    return None


def count(value: str) -> int:
    """A displayed count: "18", "1.54k", "110k", "-" (zero), "" (zero)."""
    match = _COUNT.match(value.replace(",", ""))
    if not match:
        return 0
    number, suffix = float(match.group(1)), match.group(2).lower()
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[suffix]
    return round(number * scale)
