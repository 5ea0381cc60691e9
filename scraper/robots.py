"""robots.txt per RFC 9309: 4xx means allowed, 5xx or unreachable means skip this run."""

from __future__ import annotations

from protego import Protego

from base.errors import FetchError, RobotsRefused, Unreachable
from scraper.http import PoliteHttp

ROBOTS_PRODUCT = "Paperboy"  # the product token we look for in User-agent lines


class RobotsGate:
    """Asks robots.txt once per host per run (the instance lives for one run)."""

    def __init__(self, http: PoliteHttp, base_url: str, product: str = ROBOTS_PRODUCT) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._product = product
        self._rules: Protego | None = None
        self._allow_all = False

    def check(self, path: str) -> None:
        """Raise RobotsRefused when ``path`` may not be fetched now."""
        url = f"{self._base_url}{path}"
        if self._allow_all:
            return
        if self._rules is None:
            self._load()
            if self._allow_all:
                return
        assert self._rules is not None
        if not self._rules.can_fetch(url, self._product):
            raise RobotsRefused(
                url,
                "robots.txt disallows this URL for Paperboy",
                hint="respecting the site's wishes; nothing was fetched",
            )

    def _load(self) -> None:
        robots_url = f"{self._base_url}/robots.txt"
        try:
            answer = self._http.get("/robots.txt", accept="text/plain")
        except Unreachable:
            raise  # the site is unreachable: say that, not something about robots.txt
        except FetchError as e:
            raise RobotsRefused(
                robots_url,
                f"robots.txt unavailable ({e.problem}); skipping this run as RFC 9309 asks",
                status_code=e.status_code,
                hint="the next scheduled run will try again",
            ) from e
        if 400 <= answer.status_code < 500:
            self._allow_all = True  # RFC 9309 §2.3.1.3: "unavailable" means no restrictions
            return
        if answer.status_code >= 300:
            raise RobotsRefused(
                robots_url,
                f"robots.txt answered HTTP {answer.status_code}; skipping this run",
                status_code=answer.status_code,
            )
        # RFC 9309 §2.5: parse at least the first 500 KiB.
        text = answer.body[: 512 * 1024].decode("utf-8", "replace")
        self._rules = Protego.parse(text)
