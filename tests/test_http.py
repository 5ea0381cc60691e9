"""The polite client against replayed responses: spacing, retries, Retry-After, 304, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
import respx

from paperboy.errors import FetchError
from scraper.http import (
    ClientConfig,
    Limits,
    PoliteHttp,
    Politeness,
    build_client,
)
from scraper.models import Validators
from scraper.tally import counting_requests
from tests.conftest import capture
from tests.fakes import FakeTime

BASE = "https://huggingface.co"


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with build_client(
        ClientConfig(base_url=BASE, user_agent="Paperboy-test (ops@example.org)")
    ) as c:
        yield c


def polite(client: httpx.Client, clock: FakeTime, **kw: float) -> PoliteHttp:
    return PoliteHttp(
        client,
        Politeness(**kw),  # type: ignore[arg-type]
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        jitter=lambda: 0.5,
    )


@respx.mock
def test_requests_to_one_host_are_spaced_by_the_delay(
    client: httpx.Client, clock: FakeTime
) -> None:
    route = respx.get(f"{BASE}/api/daily_papers").respond(200, json=[])
    http = polite(client, clock, delay=1.5)
    for _ in range(3):
        http.get("/api/daily_papers")
    assert route.call_count == 3
    assert clock.sleeps == [1.5, 1.5]
    assert route.calls[0].request.headers["user-agent"] == "Paperboy-test (ops@example.org)"


@respx.mock
def test_5xx_is_retried_with_backoff_then_succeeds(client: httpx.Client, clock: FakeTime) -> None:
    route = respx.get(f"{BASE}/api/daily_papers").mock(
        side_effect=[httpx.Response(502), httpx.Response(500), httpx.Response(200, json=[])]
    )
    answer = polite(client, clock, delay=0, backoff_base=1.0).get("/api/daily_papers")
    assert answer.status_code == 200
    assert answer.requests == 3
    assert route.call_count == 3
    assert clock.sleeps == [1.0, 2.0]  # base * 2^n * (0.5 + jitter 0.5)


@respx.mock
def test_5xx_that_persists_gives_up_with_a_fetch_error(
    client: httpx.Client, clock: FakeTime
) -> None:
    route = respx.get(f"{BASE}/api/daily_papers").respond(500)
    with pytest.raises(FetchError) as info:
        polite(client, clock, delay=0, max_retries=2).get("/api/daily_papers")
    assert route.call_count == 3
    assert info.value.kind == "http"
    assert info.value.status_code == 500
    assert "gave up after 3 attempts" in info.value.message


@respx.mock
def test_429_with_retry_after_is_honoured(client: httpx.Client, clock: FakeTime) -> None:
    route = respx.get(f"{BASE}/api/daily_papers").mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"Retry-After": "7", "RateLimit": '"api";r=0;t=7'},
                json={"error": "rate limited"},
            ),
            httpx.Response(200, json=[]),
        ]
    )
    answer = polite(client, clock, delay=0).get("/api/daily_papers")
    assert answer.status_code == 200
    assert route.call_count == 2
    assert clock.sleeps == [7.0]


@respx.mock
def test_retry_after_beyond_the_cap_gives_up_without_waiting(
    client: httpx.Client, clock: FakeTime
) -> None:
    respx.get(f"{BASE}/api/daily_papers").respond(429, headers={"Retry-After": "3600"})
    with pytest.raises(FetchError) as info:
        polite(client, clock, delay=0, retry_after_cap=120).get("/api/daily_papers")
    assert info.value.kind == "rate_limited"
    assert "wait 3600s" in info.value.message
    assert clock.sleeps == []


@respx.mock
def test_429_without_retry_after_is_not_hammered(client: httpx.Client, clock: FakeTime) -> None:
    route = respx.get(f"{BASE}/api/daily_papers").respond(429)
    with pytest.raises(FetchError, match="rate limited"):
        polite(client, clock, delay=0).get("/api/daily_papers")
    assert route.call_count == 1


@respx.mock
def test_conditional_get_sends_validators_and_returns_304(
    client: httpx.Client, clock: FakeTime
) -> None:
    route = respx.get(f"{BASE}/api/daily_papers").respond(304)
    answer = polite(client, clock, delay=0).get(
        "/api/daily_papers",
        validators=Validators(etag='W/"abc"', last_modified="Thu, 02 Jul 2026 21:40:39 GMT"),
    )
    assert answer.status_code == 304
    sent = route.calls[0].request.headers
    assert sent["if-none-match"] == 'W/"abc"'
    assert sent["if-modified-since"] == "Thu, 02 Jul 2026 21:40:39 GMT"


@respx.mock
def test_validators_of_a_200_are_kept(client: httpx.Client, clock: FakeTime) -> None:
    respx.get(f"{BASE}/api/daily_papers").respond(
        200,
        content=capture("hf-api-daily-papers-2026-07-31.json"),
        headers={"ETag": '"v1"', "Last-Modified": "Fri, 31 Jul 2026 12:00:00 GMT"},
    )
    answer = polite(client, clock, delay=0).get("/api/daily_papers")
    assert answer.validators == Validators('"v1"', "Fri, 31 Jul 2026 12:00:00 GMT")
    assert len(answer.body) == 162_397


@respx.mock
def test_unreachable_host_is_one_clear_fetch_error(client: httpx.Client, clock: FakeTime) -> None:
    route = respx.get(f"{BASE}/api/daily_papers").mock(
        side_effect=httpx.ConnectError("[Errno -3] Temporary failure in name resolution")
    )
    with pytest.raises(FetchError) as info:
        polite(client, clock, delay=0, max_retries=1).get("/api/daily_papers")
    assert route.call_count == 2
    assert info.value.kind == "network"
    assert "cannot reach huggingface.co (is the network up?)" in info.value.message
    assert "PAPERBOY_HF_BASE_URL" in info.value.hint


@respx.mock
def test_timeout_is_mapped(client: httpx.Client, clock: FakeTime) -> None:
    respx.get(f"{BASE}/api/daily_papers").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(FetchError, match="did not answer in time"):
        polite(client, clock, delay=0, max_retries=0).get("/api/daily_papers")


@respx.mock
def test_404_is_handed_back_not_retried(client: httpx.Client, clock: FakeTime) -> None:
    route = respx.get(f"{BASE}/api/daily_papers").respond(
        404, content=capture("hf-api-error-404-body.json")
    )
    answer = polite(client, clock, delay=0).get("/api/daily_papers")
    assert answer.status_code == 404
    assert route.call_count == 1
    assert b"can't find the page" in answer.body


def test_an_in_memory_transport_is_read_and_capped(clock: FakeTime) -> None:
    body = b"[" + b"0," * 1000 + b"0]"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    config = ClientConfig(base_url=BASE, user_agent="Paperboy-test")
    with build_client(config, transport=transport) as client:
        assert polite(client, clock).get("/api/daily_papers").body == body
        small = PoliteHttp(client, Politeness(), limits=Limits(max_response_bytes=1000))
        with pytest.raises(FetchError, match="more than the 1,000-byte cap"):
            small.get("/api/daily_papers")


@respx.mock
def test_answer_requests_count_redirect_hops(client: httpx.Client, clock: FakeTime) -> None:
    respx.get(f"{BASE}/papers").respond(302, headers={"Location": "/papers/date/2026-07-02"})
    respx.get(f"{BASE}/papers/date/2026-07-02").respond(200, text="ok")
    answer = polite(client, clock, delay=0).get("/papers", accept="text/html")
    assert answer.status_code == 200
    assert answer.requests == 2 == len(respx.calls)


@respx.mock
def test_counting_requests_sees_attempts_that_end_in_an_error(
    client: httpx.Client, clock: FakeTime
) -> None:
    respx.get(f"{BASE}/api/daily_papers").respond(503)
    respx.get(f"{BASE}/robots.txt").mock(side_effect=httpx.ConnectError("down"))
    http = polite(client, clock, delay=0, max_retries=2)
    with counting_requests() as outer:
        with counting_requests() as inner, pytest.raises(FetchError):
            http.get("/api/daily_papers")
        with pytest.raises(FetchError):
            http.get("/robots.txt")
    assert inner.count == 3
    assert outer.count == 6 == len(respx.calls)


def test_counting_requests_is_per_thread(client: httpx.Client, clock: FakeTime) -> None:
    """A tally opened in one thread never counts what another thread sends."""
    with respx.mock:
        respx.get(f"{BASE}/api/daily_papers").respond(200, json=[])
        http = polite(client, clock, delay=0)
        with counting_requests() as mine:
            worker = threading.Thread(target=lambda: http.get("/api/daily_papers"))
            worker.start()
            worker.join()
            http.get("/api/daily_papers")
        assert len(respx.calls) == 2
    assert mine.count == 1
