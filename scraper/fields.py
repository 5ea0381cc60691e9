"""Field-level cleaning shared by every parser: ids, instants, URLs, counts and text."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime

# New-style arXiv ids (2007.01234, 2607.01071) and old-style ones (hep-th/9901001), ASCII digits
# only, and at most the 32 characters the store keeps (archive names are under 20).
_ARXIV_ID = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z][a-z.-]{0,23}/\d{7})", re.ASCII)
_WHITESPACE = re.compile(r"\s+")
# Not text: C0 controls (but the whitespace ones), DEL, C1 controls, lone surrogates and the
# noncharacters. Databases refuse surrogates, XML 1.0 (the Atom feed) cannot carry most of the
# rest, and none of them belongs in a title.
_NONCHARACTERS = "".join(
    f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0x10000, 0x110000, 0x10000)
)
# Bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069) are dropped too:
# in a title they can make a mail or page show text in another order than it has ("Trojan
# Source"); right-to-left scripts display without them.
_NOT_TEXT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    "\u202a-\u202e\u2066-\u2069" + _NONCHARACTERS + "]"
)
_NOT_URL = re.compile(r"[\x00-\x20\x7f\"'<>\\^`{|}]")
_COUNT = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,6})?)\s*([kKmM]?)\s*$", re.ASCII)

# Caps applied at parse time, so every database stores the same thing and no scraped value can
# outgrow a column, an email's byte budget or a preview's CPU. Real papers stay far below them
# (arXiv caps abstracts at 1,920 characters; titles run to about 300).
MAX_TITLE = 500
MAX_ABSTRACT = 5_000
MAX_AI_SUMMARY = 2_000
MAX_NAME = 200  # an author, organisation or submitter (the store's column width)
MAX_AUTHORS = 1_000  # names kept (Llama 3 has 533); author_count says how many there were
MAX_KEYWORDS = 30
MAX_KEYWORD = 100
MAX_URL = 2_000  # longer URLs are dropped, never cut (a cut URL is a wrong one)
MAX_MEDIA = 10
MAX_COUNT = 2**31 - 1  # upvotes, stars, comments, authors: PostgreSQL's integer
_EARLIEST_YEAR, _LATEST_YEAR = 1900, 2999


def arxiv_id(value: object) -> str | None:
    """The id when it looks like an arXiv id (links are built from it), else None."""
    if isinstance(value, str) and _ARXIV_ID.fullmatch(value):
        return value
    return None


def clean_text(value: str, limit: int | None = None) -> str:
    """Drop what is not text, collapse whitespace (arXiv abstracts keep hard line breaks), and
    cut to ``limit`` characters (ending in an ellipsis) when given."""
    if limit is not None and len(value) > 4 * limit + 1_000:
        value = value[: 4 * limit + 1_000]  # bound the work spent on a hostile megabyte
    text = _WHITESPACE.sub(" ", _NOT_TEXT.sub("", value)).strip()
    return clip(text, limit) if limit is not None else text


def clip(text: str, limit: int) -> str:
    """``text`` when it fits, else cut at a word boundary near ``limit`` with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 4 // 5:
        cut = cut[:space]
    return cut.rstrip() + "\u2026"


def in_range(value: int) -> bool:
    """Whether a scraped count fits what the store keeps (0 to PostgreSQL's integer)."""
    return 0 <= value <= MAX_COUNT


def iso_day(value: object) -> str | None:
    """``value`` when it is a real day written YYYY-MM-DD, else None."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    return None


def instant(value: str) -> datetime:
    """An ISO-8601 instant, a bare date, or an RFC 2822 date, as timezone-aware UTC.

    Raises ValueError for anything else, and for years before 1900 or after 2999 (year 1 or
    9999 with an offset does not even fit a datetime once moved to UTC).
    """
    text = value.strip()
    if len(text) > 64:
        raise ValueError("too long for a date")
    try:
        parsed = _parse_instant(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        moved = parsed.astimezone(UTC)
    except (OverflowError, TypeError, IndexError) as e:
        raise ValueError(f"out of range: {e}") from e
    if not _EARLIEST_YEAR <= moved.year <= _LATEST_YEAR:
        raise ValueError(f"year {moved.year} is out of range")
    return moved


def _parse_instant(text: str) -> datetime:
    if "," in text:  # RSS pubDate: "Mon, 03 Aug 2026 02:05:52 +0000"
        return parsedate_to_datetime(text)
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
    return datetime.fromisoformat(text)


def web_url(value: object) -> str | None:
    """Keep only http(s) URLs made of URL characters: javascript:, data:, and anything with
    quotes, angle brackets, spaces or non-text characters in it, or longer than MAX_URL, never
    reaches a link."""
    if isinstance(value, str) and len(value) <= MAX_URL + 100:
        stripped = value.strip()
        if (
            stripped.startswith(("https://", "http://"))
            and len(stripped) <= MAX_URL
            and not _NOT_URL.search(stripped)
            and not _NOT_TEXT.search(stripped)
        ):
            return stripped
    return None


def count(value: str) -> int:
    """A displayed count: "18", "1.54k", "110k", "-" (zero), "" (zero); out of range is zero."""
    match = _COUNT.match(value.replace(",", "")) if len(value) <= 40 else None
    if not match:
        return 0
    number, suffix = float(match.group(1)), match.group(2).lower()
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[suffix]
    counted = round(number * scale)
    return counted if in_range(counted) else 0
