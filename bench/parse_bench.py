"""Parse the saved 460 KB daily page: our parser against BeautifulSoup(html.parser), one run.

The same extraction on both sides: find the DailyPapers island, decode its data-props JSON, turn
the entries into ScrapedPaper. Also times the DOM-card fallback. Prints medians and the ratio.
Target (issue 3): >= 10x faster than BeautifulSoup and < 15 ms per page.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bs4 import BeautifulSoup
from selectolax.lexbor import LexborHTMLParser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scraper.parse_html import _from_cards, parse_page  # noqa: E402
from scraper.parse_json import parse_entries  # noqa: E402

PAGE = (ROOT / "tests" / "data" / "hf" / "hf-daily-2026-07-02.html").read_bytes()


def ours() -> int:
    return len(parse_page(PAGE, "bench").papers)


def ours_cards() -> int:
    tree = LexborHTMLParser(PAGE.decode())
    return len(_from_cards(tree.css("article"), "bench"))


def beautifulsoup() -> int:
    soup = BeautifulSoup(PAGE.decode(), "html.parser")
    island = soup.find("div", attrs={"data-target": "DailyPapers"})
    assert island is not None
    props = json.loads(str(island["data-props"]))
    return len(parse_entries(props["dailyPapers"], "bench"))


def median_ms(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    fn()  # warm up
    times, count = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        count = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), count


def main() -> None:
    ours_ms, n1 = median_ms(ours, 50)
    cards_ms, n2 = median_ms(ours_cards, 50)
    soup_ms, n3 = median_ms(beautifulsoup, 10)
    assert n1 == n2 == n3 == 31, (n1, n2, n3)
    print(f"page: {len(PAGE) / 1024:.0f} KiB, 31 papers")
    print(f"ours (selectolax + data-props):     {ours_ms:7.2f} ms")
    print(f"ours, DOM-card fallback:            {cards_ms:7.2f} ms")
    print(f"BeautifulSoup(html.parser), same:   {soup_ms:7.2f} ms")
    print(f"ratio: {soup_ms / ours_ms:.1f}x faster (target >= 10x, < 15 ms)")


if __name__ == "__main__":
    main()
