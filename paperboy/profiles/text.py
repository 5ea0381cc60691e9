"""Text analysis shared by queries and papers: case and accent folding, words, simple plurals.

"High-Fidelity" and "high fidelity" both become the words [high, fidelity]; "Café" is "cafe";
"models" is "model". Words are runs of letters and digits, so "cat" never matches "concatenate".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without accents: NFKD, drop combining marks, casefold."""
    if text.isascii():
        return text.lower()  # the common case, and for ASCII the same result
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def raw_words(text: str) -> list[str]:
    """Folded words, before plural folding (what a trailing-* prefix is compared with)."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=262144)
def singular(word: str) -> str:
    """Simple English plural folding, applied the same way to queries and papers."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Folded, plural-folded words: the unit every match is made of."""
    return [singular(w) for w in raw_words(text)]
