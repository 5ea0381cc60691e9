"""Render + build 10,000 personalised digests of ~20 papers each.

Each subscriber has their own profile (so their own selection, highlights and links); papers are
the real captured ones. Timed per message: select, compose the content (entries shared between
subscribers through the cache, as in a real run), render HTML and text (CSS inlined), build
the MIME message and serialise it. The naive baseline, measured in the same run on a slice,
renders every entry afresh for every subscriber (no shared cache).
Target (issue 5): < 2 ms per message.
"""

from __future__ import annotations

import random
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailer.message import build  # noqa: E402
from mailer.render import DigestRenderer  # noqa: E402
from mailer.types import DigestEntry, OutgoingEmail  # noqa: E402
from paperboy import digest as digests  # noqa: E402
from paperboy.links import LinkBuilder  # noqa: E402
from paperboy.profiles.matcher import Matcher, ProfileSpec  # noqa: E402
from paperboy.schedule import Timing  # noqa: E402
from paperboy.tokens import Tokens  # noqa: E402
from scraper.parse_json import parse_entries  # noqa: E402

SUBSCRIBERS, PER_DIGEST, BASELINE = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, 20, 300
NOW = datetime(2026, 7, 2, 9, 30, tzinfo=UTC)
TIMING = Timing("Europe/London", 8, "daily")


def papers() -> list[object]:
    import json

    found: dict[str, object] = {}
    for file in sorted((ROOT / "tests" / "data" / "hf").glob("hf-api-*.json")):
        data = json.loads(file.read_bytes())
        if isinstance(data, list):
            for p in parse_entries(data, file.name):
                found.setdefault(p.arxiv_id, p)
    return list(found.values())


def main() -> None:
    rng = random.Random(5)
    corpus = papers()
    keywords = sorted({k.lower() for p in corpus for k in p.ai_keywords if '"' not in k})  # type: ignore[attr-defined]
    words = sorted(
        {w.lower() for p in corpus for w in p.title.split() if w.isalpha() and len(w) > 6}
    )  # type: ignore[attr-defined]
    specs = []
    for i in range(SUBSCRIBERS):  # 4 AI-keyword phrases and 2 title words: ~20 papers each
        terms = [f'"{k}"' for k in rng.sample(keywords, 4)] + rng.sample(words, 2)
        specs.append(ProfileSpec(i, i, "topics", " OR ".join(terms)))
    result = Matcher(specs).match(corpus)  # type: ignore[arg-type]
    per_subscriber = [result.for_subscriber(i) for i in range(SUBSCRIBERS)]
    renderer = DigestRenderer()
    tokens = Tokens("bench-secret-0123456789abcdef", lambda: NOW)
    builder = LinkBuilder(tokens, "https://paperboy.example.org")

    def one(i: int, cache: dict[object, DigestEntry]) -> int:
        selection = digests.select(per_subscriber[i], PER_DIGEST)
        # As the composer builds them: each paper's feedback link too, and the next send time.
        links = builder.digest_links(f"bench-link-key-{i:07d}", "2026-07-02")
        content = digests.content(
            f"reader{i}@example.org", "2026-07-02", selection, links, cache, timing=TIMING, now=NOW
        )
        html, text = renderer.render(content)
        email = OutgoingEmail(
            recipient=f"reader{i}@example.org",
            subject=digests.subject(selection, "2026-07-02"),
            text=text,
            html=html,
            message_id=f"<digest.{i}@paperboy.example.org>",
            unsubscribe_url=links.unsubscribe,
            unsubscribe_mailto="mailto:digest@paperboy.example.org?subject=unsubscribe",
        )
        message = build(
            email,
            sender="Paperboy <digest@paperboy.example.org>",
            list_id="Paperboy digest <digest.paperboy.example.org>",
            date=NOW,
        )
        return len(message)

    shared: dict[object, DigestEntry] = {}
    start = time.perf_counter()
    sizes = [one(i, shared) for i in range(SUBSCRIBERS)]
    ours = (time.perf_counter() - start) / SUBSCRIBERS
    start = time.perf_counter()
    for i in range(BASELINE):
        one(i, {})
    naive = (time.perf_counter() - start) / BASELINE
    shown = sum(min(PER_DIGEST, len({m.paper.arxiv_id for m in s})) for s in per_subscriber)
    median = sorted(sizes)[len(sizes) // 2] / 1024
    print(
        f"{SUBSCRIBERS:,} digests, {shown / SUBSCRIBERS:.1f} papers each, "
        f"median size {median:.0f} KiB, largest {max(sizes) / 1024:.0f} KiB"
    )
    print(f"render + build with shared entries: {ours * 1000:.2f} ms per message")
    print(f"baseline, entries rendered afresh ({BASELINE} messages): {naive * 1000:.2f} ms each")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS {rss:.0f} MiB; target < 2 ms per message")


if __name__ == "__main__":
    main()
