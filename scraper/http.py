"""The one HTTP edge: a client factory and a polite GET (spacing, retries, Retry-After, 304).

Every httpx exception is mapped to FetchError here, so nothing above this module imports httpx's
error types.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from paperboy.errors import FetchError
from scraper.models import Validators

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
RATE_LIMITED_STATUS = frozenset({429, 503})
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """What the client factory needs; built from Settings at the edge."""

    base_url: str
    user_agent: str
    connect_timeout: float = 10.0
    read_timeout: float = 30.0


def build_client(
    config: ClientConfig, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The one httpx.Client Paperboy uses; tests and the demo inject a replaying transport."""
    timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
    return httpx.Client(
        base_url=config.base_url,
        headers={"User-Agent": config.user_agent, "Accept-Encoding": "gzip"},
        timeout=timeout,
        follow_redirects=True,
        transport=transport,
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """A response we decided to hand upward (2xx, 304 or a non-retryable 4xx)."""

    url: str
    status_code: int
    body: bytes
    content_type: str
    validators: Validators
    requests: int  # how many HTTP requests it took, retries included

    def json_text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Politeness:
    """How gently we talk to one host."""

    delay: float = 1.0  # seconds between the starts of two requests to one host
    max_retries: int = 3  # on network errors, 5xx, and 429/503 with a short Retry-After
    retry_after_cap: float = 120.0  # a longer Retry-After gives up this run instead of waiting
    backoff_base: float = 1.0


class PoliteHttp:
    """GET with per-host spacing, retries with backoff and jitter, Retry-After, conditional GET."""

    def __init__(
        self,
        client: httpx.Client,
        politeness: Politeness,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._politeness = politeness
        self._sleep, self._monotonic, self._jitter = sleep, monotonic, jitter
        self._last_request: dict[str, float] = {}
        self._host_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        validators: Validators | None = None,
        accept: str = "application/json",
    ) -> Answer:
        """One logical GET. Raises FetchError when the host stays unreachable or keeps failing."""
        request = self._client.build_request(
            "GET", path, params=params, headers=_headers(accept, validators)
        )
        url = str(request.url)
        attempts = 0
        while True:
            attempts += 1
            response = self._send(request, url, attempts)
            if response is None:
                continue
            status = response.status_code
            if status in RATE_LIMITED_STATUS and "retry-after" in response.headers:
                self._wait_retry_after(response, url, attempts)
                continue
            if status in RETRYABLE_STATUS:
                self._backoff_or_raise(
                    url, attempts, f"Hugging Face answered HTTP {status}", "http", status
                )
                continue
            if status == 429:
                raise FetchError(
                    url, "rate limited (HTTP 429)", kind="rate_limited", status_code=429
                )
            return Answer(
                url=url,
                status_code=status,
                body=response.content,
                content_type=response.headers.get("content-type", ""),
                validators=Validators(
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                ),
                requests=attempts,
            )

    def _send(self, request: httpx.Request, url: str, attempts: int) -> httpx.Response | None:
        host = request.url.host
        with self._host_lock(host):
            self._space(host)
            try:
                response = self._client.send(request)
                response.read()
                return response
            except httpx.HTTPError as e:
                problem = _describe(e, url)
                self._backoff_or_raise(url, attempts, problem, "network", None)
                return None
            finally:
                self._last_request[host] = self._monotonic()

    def _host_lock(self, host: str) -> threading.Lock:
        with self._locks_guard:
            return self._host_locks.setdefault(host, threading.Lock())

    def _space(self, host: str) -> None:
        last = self._last_request.get(host)
        if last is not None:
            wait = self._politeness.delay - (self._monotonic() - last)
            if wait > 0:
                self._sleep(wait)

    def _backoff_or_raise(
        self, url: str, attempts: int, problem: str, kind: str, status: int | None
    ) -> None:
        if attempts > self._politeness.max_retries:
            tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
            raise FetchError(
                url,
                f"{problem}, gave up after {tries}",
                kind=kind,
                status_code=status,
                hint=_hint(kind),
            )
        backoff = self._politeness.backoff_base * 2 ** (attempts - 1) * (0.5 + self._jitter())
        log.info("retrying %s in %.1fs: %s", url, backoff, problem)
        self._sleep(min(backoff, MAX_BACKOFF_SECONDS))

    def _wait_retry_after(self, response: httpx.Response, url: str, attempts: int) -> None:
        status = response.status_code
        seconds = _retry_after_seconds(response.headers["retry-after"])
        cap = self._politeness.retry_after_cap
        if seconds is None or seconds > cap or attempts > self._politeness.max_retries:
            asked = "an unreadable delay" if seconds is None else f"{seconds:.0f}s"
            raise FetchError(
                url,
                f"rate limited (HTTP {status}); the site asked us to wait {asked}",
                kind="rate_limited",
                status_code=status,
                hint=f"we wait at most {cap:.0f}s (PAPERBOY_RETRY_AFTER_CAP); try again later",
            )
        log.warning("HTTP %s from %s: waiting %.1fs as Retry-After asks", status, url, seconds)
        self._sleep(seconds)


def _headers(accept: str, validators: Validators | None) -> dict[str, str]:
    headers = {"Accept": accept}
    if validators is not None:
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
    return headers


def _retry_after_seconds(value: str) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe(error: httpx.HTTPError, url: str) -> str:
    host = urlsplit(url).hostname or url
    if isinstance(error, httpx.TimeoutException):
        return f"{host} did not answer in time"
    if isinstance(error, httpx.ConnectError):
        return f"cannot reach {host} (is the network up?)"
    return f"request to {host} failed: {type(error).__name__}"


def _hint(kind: str) -> str:
    if kind == "network":
        return "check the network, or point PAPERBOY_HF_BASE_URL at a reachable mirror"
    return "Hugging Face may be having trouble; the next scheduled run will try again"
