"""The plain-text part's pieces: prose wrapped at 76 columns, each URL whole on its own line's
end (wrapping never breaks one), a paper's lines indented under its title.

A paper's block is built once per paper and shared by every subscriber's digest (see
paperboy.digest.content); the few per-subscriber lines go through the same cached wrapper.
"""

from __future__ import annotations

import textwrap
from functools import lru_cache

WIDTH = 76
INDENT = "  "


@lru_cache(maxsize=8192)
def wrapped(text: str, first: str = INDENT, rest: str = INDENT) -> str:
    """``text`` in lines of at most WIDTH columns (a word longer than that keeps its own line);
    cached: the same reason or title comes back in many subscribers' digests."""
    return filled(text, first, rest)


def filled(text: str, first: str = "", rest: str = "") -> str:
    """``wrapped`` for text that is never seen twice (a footer naming its recipient)."""
    lines = textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines)


def labelled(label: str, url: str) -> str:
    """ "  Label: URL" on one line when it fits, else the URL on the next line by itself;
    the URL alone when there is no label."""
    line = f"{INDENT}{label}: {url}" if label else f"{INDENT}{url}"
    return line if len(line) <= WIDTH else f"{INDENT}{label}:\n{INDENT}{url}"


def paper_block(
    *,
    title: str,
    meta: str,
    blurb_label: str,
    blurb: str,
    links: tuple[tuple[str, str], ...],
    matched: tuple[str, ...],
) -> str:
    """One paper: title, who and how liked, the labelled blurb, its links, the matched terms."""
    parts = [wrapped(title, "* ", INDENT), wrapped(meta)]
    if blurb:
        parts.append(wrapped(f"{blurb_label}: {blurb}"))
    parts += [labelled(label, url) for label, url in links]
    if matched:
        parts.append(wrapped("Matched: " + ", ".join(matched)))
    return "\n".join(parts)


def reasons_block(reasons: tuple[str, ...]) -> str:
    """Why meaning found a paper close, one wrapped line per reason."""
    return "\n".join(wrapped(f"Why: {r}") for r in reasons)
