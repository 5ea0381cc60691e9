"""The one HTTP edge: a client factory and a polite GET (spacing, retries, Retry-After, 304).

Every httpx exception is mapped to FetchError here, so nothing above this module imports httpx's
error types.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from base.errors import (
    BadAnswer,
    FetchError,
    OffSiteRedirect,
    RateLimited,
    TooLarge,
    TooSlow,
    Unreachable,
)
from scraper.deadline import DEADLINE, deadline_transport
from scraper.models import Validators
from scraper.tally import count_sent, counting_requests

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
RATE_LIMITED_STATUS = frozenset({429, 503})
MAX_BACKOFF_SECONDS = 30.0
HUGGING_FACE = "Hugging Face"  # the site a client talks to unless told otherwise, in messages
MAX_ETAG = 256  # longer validators are not worth sending back
MAX_LAST_MODIFIED = 64  # the store's column; an HTTP date is 29 characters
_SENDABLE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")  # visible ASCII


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """What the client factory needs; built from Settings at the edge."""

    base_url: str
    user_agent: str
    connect_timeout: float = 10.0
    read_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Limits:
    """What one answer may cost: bytes read (compressed and decompressed) and wall time."""

    max_response_bytes: int = 10_000_000
    deadline: float = 60.0  # seconds for a whole request, connection to last byte


def build_client(
    config: ClientConfig, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The one httpx.Client Paperboy uses; tests and the demo inject a replaying transport.

    Redirects are followed only within the configured site (same scheme, host and port).
    """
    timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
    return httpx.Client(
        base_url=config.base_url,
        headers={"User-Agent": config.user_agent, "Accept-Encoding": "gzip"},
        timeout=timeout,
        follow_redirects=True,
        transport=transport or deadline_transport(),
        event_hooks={"request": [_same_site(config.base_url)]},
    )


def same_origin(url: httpx.URL | str, other: httpx.URL | str) -> bool:
    """Whether two URLs name one site: the same scheme, host and port."""
    a, b = httpx.URL(url), httpx.URL(other)
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _same_site(base_url: str) -> Callable[[httpx.Request], None]:
    site = httpx.URL(base_url)

    def check(request: httpx.Request) -> None:
        url = request.url
        if not same_origin(url, site):
            raise OffSiteRedirect(
                str(url)[:300],
                f"redirected away from {site.host}; only the configured site is followed",
                hint="point PAPERBOY_HF_BASE_URL at the site the answers come from",
            )

    return check


@dataclass(frozen=True, slots=True)
class Answer:
    """A response we decided to hand upward (2xx, 304 or a non-retryable 4xx)."""

    url: str
    status_code: int
    body: bytes
    content_type: str
    validators: Validators
    requests: int  # how many HTTP requests it took, retries and redirects included


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
        limits: Limits = Limits(),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        site: str = HUGGING_FACE,
    ) -> None:
        self._client = client
        self._site = site  # who answered, in error messages (the feed's client names its host)
        self._politeness = politeness
        self._limits = limits
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
        with counting_requests() as tally:
            while True:
                attempts += 1
                received = self._send(request, url, attempts)
                if received is None:
                    continue
                response, body = received
                status = response.status_code
                if status in RATE_LIMITED_STATUS and "retry-after" in response.headers:
                    self._wait_retry_after(response, url, attempts)
                    continue
                if status in RETRYABLE_STATUS:
                    self._backoff_or_raise(
                        url, attempts, f"{self._site} answered HTTP {status}", BadAnswer, status
                    )
                    continue
                if status == 429:
                    raise RateLimited(url, "rate limited (HTTP 429)", status_code=429)
                return _answer(url, response, body, tally.count)

    def url_for(self, path: str, params: Mapping[str, str | int] | None = None) -> str:
        """The URL ``get(path, params=params)`` asks for (the key its validators are kept under)."""
        return str(self._client.build_request("GET", path, params=params).url)

    def _send(
        self, request: httpx.Request, url: str, attempts: int
    ) -> tuple[httpx.Response, bytes] | None:
        host = request.url.host
        with self._host_lock(host):
            self._space(host)
            deadline = time.monotonic() + self._limits.deadline
            token = DEADLINE.set(deadline)
            sent = 1  # an attempt that fails to connect was still a request made
            try:
                response = self._client.send(request, stream=True)
                sent += len(response.history)  # the redirect hops followed on the way
                try:
                    return response, self._read(response, url, deadline)
                finally:
                    response.close()
            except httpx.TooManyRedirects as e:  # a loop: no retry cures it
                raise BadAnswer(
                    url,
                    f"{self._site} redirects in a loop (more than {self._client.max_redirects}"
                    " redirects)",
                    hint="the next scheduled run will try again",
                ) from e
            except httpx.HTTPError as e:
                if time.monotonic() >= deadline:
                    raise self._too_slow(url) from e
                problem = _describe(e, url)
                self._backoff_or_raise(url, attempts, problem, Unreachable, None)
                return None
            finally:
                count_sent(sent)
                DEADLINE.reset(token)
                self._last_request[host] = self._monotonic()

    def _read(self, response: httpx.Response, url: str, deadline: float) -> bytes:
        """The body, decompressed, read in chunks and given up at the byte cap or the deadline
        (a server trickling a byte at a time keeps each read under the read timeout)."""
        cap = self._limits.max_response_bytes
        if response.is_stream_consumed:  # an in-memory transport (the demo) already read it
            if len(response.content) > cap:
                raise self._too_big(url, "inflates to more")
            return response.content
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise self._too_big(url, f"announces {int(declared):,} bytes, more")
        inflate = _decoder(response.headers.get("content-encoding", ""), url)
        parts: list[bytes] = []
        size = 0
        for raw in response.iter_raw():
            if response.num_bytes_downloaded > cap:
                raise self._too_big(url, "sent more")
            data = inflate(raw, cap - size + 1)
            size += len(data)
            if size > cap:
                raise self._too_big(url, "inflates to more")
            parts.append(data)
            if time.monotonic() >= deadline:
                raise self._too_slow(url)
        return b"".join(parts)

    def _too_big(self, url: str, what: str) -> TooLarge:
        cap = self._limits.max_response_bytes
        return TooLarge(
            url,
            f"the answer {what} than the {cap:,}-byte cap",
            hint="raise PAPERBOY_MAX_RESPONSE_BYTES if the site really sends that much",
        )

    def _too_slow(self, url: str) -> TooSlow:
        return TooSlow(
            url,
            f"the answer took longer than the {self._limits.deadline:g}s deadline",
            hint="the site is slow or trickling; PAPERBOY_REQUEST_DEADLINE sets the deadline",
        )

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
        self,
        url: str,
        attempts: int,
        problem: str,
        error: type[Unreachable | BadAnswer],
        status: int | None,
    ) -> None:
        if attempts > self._politeness.max_retries:
            tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
            raise error(
                url,
                f"{problem}, gave up after {tries}",
                status_code=status,
                hint=_hint(error, self._site),
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
            raise RateLimited(
                url,
                f"rate limited (HTTP {status}); the site asked us to wait {asked}",
                status_code=status,
                hint=f"we wait at most {cap:.0f}s (PAPERBOY_RETRY_AFTER_CAP); try again later",
            )
        log.warning("HTTP %s from %s: waiting %.1fs as Retry-After asks", status, url, seconds)
        self._sleep(seconds)


def _answer(url: str, response: httpx.Response, body: bytes, requests: int) -> Answer:
    validators = Validators(
        etag=response.headers.get("etag"), last_modified=response.headers.get("last-modified")
    )
    return Answer(
        url=url,
        status_code=response.status_code,
        body=body,
        content_type=response.headers.get("content-type", ""),
        validators=sendable(validators),
        requests=requests,
    )


def sendable(validators: Validators) -> Validators:
    """The validators that can be sent back as they came: visible ASCII, not absurdly long.

    Anything else (a non-ASCII ETag, say) is dropped: replaying it would fail every later
    conditional GET of the list.
    """
    return Validators(
        etag=_visible(validators.etag, MAX_ETAG),
        last_modified=_visible(validators.last_modified, MAX_LAST_MODIFIED),
    )


def _visible(value: str | None, limit: int) -> str | None:
    if value and len(value) <= limit and _SENDABLE.fullmatch(value):
        return value
    return None


def _decoder(encoding: str, url: str) -> Callable[[bytes, int], bytes]:
    """A decoder for the answer's Content-Encoding that never inflates past what is asked."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return lambda data, _room: data
    if name in ("gzip", "x-gzip", "deflate"):
        return _Inflater(zlib.MAX_WBITS | 32 if name != "deflate" else zlib.MAX_WBITS, url)
    raise BadAnswer(
        url, f"the answer uses Content-Encoding {encoding[:40]!r}, which we did not ask for"
    )


class _Inflater:
    """gzip or deflate, streamed: each call returns at most ``room`` bytes more (a gzip bomb is
    stopped at the cap, not inflated whole), across several gzip members."""

    def __init__(self, wbits: int, url: str) -> None:
        self._wbits, self._url = wbits, url
        self._z = zlib.decompressobj(wbits)
        self._started = False

    def __call__(self, data: bytes, room: int) -> bytes:
        out: list[bytes] = []
        try:
            while data and room > 0:
                chunk = self._inflate(data, room)
                out.append(chunk)
                room -= len(chunk)
                if self._z.unconsumed_tail:
                    data = self._z.unconsumed_tail
                elif self._z.eof and self._z.unused_data:
                    data = self._z.unused_data  # another gzip member follows
                    self._z = zlib.decompressobj(self._wbits)
                else:
                    data = b""
        except zlib.error as e:
            raise BadAnswer(self._url, f"the answer's compression is corrupt ({e})") from e
        return b"".join(out)

    def _inflate(self, data: bytes, room: int) -> bytes:
        if self._started or self._wbits != zlib.MAX_WBITS:
            return self._z.decompress(data, room)
        self._started = True
        try:
            return self._z.decompress(data, room)
        except zlib.error:  # "deflate" sent raw, without the zlib header, as some servers do
            self._wbits = -zlib.MAX_WBITS
            self._z = zlib.decompressobj(self._wbits)
            return self._z.decompress(data, room)


def _headers(accept: str, validators: Validators | None) -> dict[str, str]:
    headers = {"Accept": accept}
    if validators is not None:
        validators = sendable(validators)
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


def _hint(error: type[FetchError], site: str) -> str:
    """What to do when ``site`` keeps failing (the mirror setting only where it is the site's)."""
    if issubclass(error, Unreachable):
        if site == HUGGING_FACE:
            return "check the network, or point PAPERBOY_HF_BASE_URL at a reachable mirror"
        return "check the network and the address"
    return f"{site} may be having trouble; the next scheduled run will try again"
