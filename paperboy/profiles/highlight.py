"""Where in a text the words of a match stand, so emails and previews can highlight them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from paperboy.profiles.text import fold, singular

_WORD = re.compile(r"[^\W_]+")

Span = tuple[int, int]


@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[tuple[tuple[int, int, str], ...], tuple[str, ...]]:
    """Word positions, folded words and plural-folded words of a text, once per text."""
    tokens = tuple((m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text))
    return tokens, tuple(singular(t[2]) for t in tokens)


def spans(text: str, hits: Iterable[tuple[tuple[str, ...], bool]]) -> list[Span]:
    """Character spans of ``text`` matching any (words, is_prefix) hit, merged and sorted."""
    tokens, folded = _tokens(text)
    found: list[Span] = []
    for words, prefix in hits:
        if not words:
            continue
        if prefix:
            found.extend((s, e) for s, e, raw in tokens if raw.startswith(words[0]))
            continue
        size = len(words)
        for i in range(len(tokens) - size + 1):
            if tuple(folded[i : i + size]) == words:
                found.append((tokens[i][0], tokens[i + size - 1][1]))
    return _merge(found)


def _merge(found: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(text: str, found: list[Span], width: int = 240) -> tuple[str, list[Span]]:
    """A window of ``text`` around the first highlighted span, with the spans shifted into it."""
    if len(text) <= width:
        return text, found
    centre = found[0][0] if found else 0
    start = max(0, min(centre - width // 3, len(text) - width))
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    end = min(len(text), start + width)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    inside = [(s + shift, e + shift) for s, e in found if s >= start and e <= end]
    return prefix + text[start:end] + suffix, inside
