"""Rate limits that hold, and hosts that are ours: one mailbox is one key however it is tagged,
X-Forwarded-For counts only from a configured proxy, IPv6 counts by /64, the limiter's memory is
bounded with checks that cost the same at 100,000 keys, and a foreign Host header is refused
(links, redirects and the feed's id come from PAPERBOY_PUBLIC_URL)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import httpx
import pytest
from defusedxml import ElementTree
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from mailer.transports import NullTransport
from paperboy.clock import fixed_clock
from paperboy.settings import load_settings
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
from paperboy.web.limits import parse_networks
from paperboy.web.mails import PageMailer
from paperboy.web.security import SECURITY_HEADERS, Limit, RateLimiter
from tests.pages import MovingClock, csrf_of
from tests.test_cli import run
from tests.web_server import serving
from tests.world import NOW, SECRET, World, world

with warnings.catch_warnings():  # Starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PUBLIC = "https://paperboy.example.org"
LIMITS = {
    "ip": Limit(3, timedelta(hours=1)),
    "address": Limit(2, timedelta(hours=1)),
    "preview": Limit(2, timedelta(minutes=1)),
}
ROOMY_IP = LIMITS | {"ip": Limit(1000, timedelta(hours=1))}


@pytest.fixture
def made(sqlite_url: str) -> Iterator[World]:
    with world(sqlite_url) as w:
        yield w


def context(w: World, limits: dict[str, Limit] = LIMITS, **extra: object) -> WebContext:
    clock = MovingClock()
    tokens = Tokens(SECRET, clock)
    mailer = PageMailer(NullTransport, "Paperboy <p@paperboy.example.org>", PUBLIC, tokens, clock)
    return WebContext(w.engine, tokens, clock, mailer, limits, PUBLIC, **extra)  # type: ignore[arg-type]


def client(
    app: WebContext | FastAPI, peer: str = "testclient", host: str = "paperboy.example.org"
) -> TestClient:
    """A client of ``app`` (built from the context if given one) at ``peer``, asking ``host``."""
    app = create_app(app) if isinstance(app, WebContext) else app
    return TestClient(app, base_url=f"http://{host}", client=(peer, 50000), follow_redirects=False)


def sign_up(c: TestClient | httpx.Client, email: str, **headers: str) -> int:
    csrf = csrf_of(c.get("/signup", headers=headers).text)
    form = {"csrf": csrf, "email": email, "query": "diffusion", "time": "07:30", "zone": "UTC"}
    return c.post("/signup", data=form, headers=headers).status_code


# -- one mailbox, one key --------------------------------------------------------------------


def test_plus_tags_and_case_do_not_buy_more_mails(made: World) -> None:
    with client(context(made, ROOMY_IP)) as c:
        assert sign_up(c, "reader+one@example.org") == 200
        assert sign_up(c, "Reader+two@Example.org") == 200
        assert sign_up(c, "READER+three@example.ORG") == 429  # the same mailbox: 2 an hour
        assert sign_up(c, "other@example.org") == 200  # another mailbox is not held up


def test_gmail_dots_do_not_buy_more_mails(made: World) -> None:
    with client(context(made, ROOMY_IP)) as c:
        assert sign_up(c, "first.last@gmail.com") == 200
        assert sign_up(c, "firstlast+x@googlemail.com") == 200
        assert sign_up(c, "f.i.r.s.t.l.a.s.t@gmail.com") == 429
        assert sign_up(c, "first.last@example.org") == 200  # dots matter elsewhere
        assert sign_up(c, "firstlast@example.org") == 200


# -- the client's address --------------------------------------------------------------------


def test_forwarded_for_from_an_unconfigured_peer_is_not_believed(made: World) -> None:
    """Served as `paperboy serve` serves it: uvicorn from 127.0.0.1, no proxy configured."""
    with serving(create_app(context(made))) as base, httpx.Client(base_url=base) as c:
        answers = [
            sign_up(c, f"r{n}@example.org", **{"X-Forwarded-For": f"203.0.113.{n}"})
            for n in range(4)
        ]
    assert answers == [200, 200, 200, 429]  # one bucket: the peer's, 3 an hour


def test_a_configured_proxy_gives_each_visitor_a_bucket(made: World) -> None:
    ctx = context(made, trusted_proxies=(ip_network("10.0.0.0/8"),))
    with client(ctx, peer="10.1.2.3") as c:
        for visitor in ("198.51.100.7", "198.51.100.8"):
            answers = [
                sign_up(c, f"r{n}@example.org", **{"X-Forwarded-For": visitor}) for n in range(4)
            ]
            assert answers == [200, 200, 200, 429], visitor
    with client(ctx, peer="10.1.2.3") as c:  # what the visitor wrote left of it is not believed
        answers = [
            sign_up(c, f"s{n}@example.org", **{"X-Forwarded-For": f"1.1.1.{n}, 198.51.100.9"})
            for n in range(4)
        ]
        assert answers == [200, 200, 200, 429]


def test_forwarded_headers_from_elsewhere_are_ignored(made: World) -> None:
    ctx = context(made, trusted_proxies=(ip_network("10.0.0.0/8"),))
    with client(ctx, peer="192.0.2.50") as c:  # not our proxy: it cannot say who it is
        answers = [
            sign_up(c, f"r{n}@example.org", **{"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(4)
        ]
        assert answers == [200, 200, 200, 429]


def test_forwarded_proto_from_the_proxy_marks_the_cookie_secure(made: World) -> None:
    ctx = context(made, trusted_proxies=(ip_network("127.0.0.1"),))
    with client(ctx, peer="127.0.0.1") as c:
        proxied = c.get("/signup", headers={"X-Forwarded-Proto": "https"})
        assert "secure" in proxied.headers["set-cookie"].lower()
    with client(ctx, peer="192.0.2.50") as c:
        direct = c.get("/signup", headers={"X-Forwarded-Proto": "https"})
        assert "secure" not in direct.headers["set-cookie"].lower()


def test_ipv6_clients_count_by_their_64(made: World) -> None:
    app = create_app(context(made))
    same = ["2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:2:abcd::9"]
    answers = []
    for n, peer in enumerate([*same, "2001:db8:1:2:ffff::1"]):
        # one app, several clients: no `with`, which would stop the app's mail queue on leaving
        answers.append(sign_up(client(app, peer=peer), f"r{n}@example.org"))
    assert answers == [200, 200, 200, 429]
    assert sign_up(client(app, peer="2001:db8:1:3::1"), "x@example.org") == 200  # next /64


# -- the limiter's cost ----------------------------------------------------------------------


def test_the_limiter_keeps_at_most_its_capacity_and_forgets_the_oldest() -> None:
    limiter = RateLimiter(fixed_clock(NOW), {"ip": Limit(1, timedelta(hours=1))}, capacity=1000)
    assert limiter.allow(ip="first")
    assert limiter.allow(ip="busy")
    for n in range(5000):
        assert limiter.allow(ip=f"10.0.{n // 256}.{n % 256}")
        if n % 500 == 0:
            assert not limiter.allow(ip="busy")  # refused: and kept, as recently seen
    assert limiter.keys("ip") == 1000
    assert limiter.allow(ip="first")  # evicted long ago: a fresh key
    assert not limiter.allow(ip="busy")


def test_a_check_costs_the_same_at_100000_keys() -> None:
    limiter = RateLimiter(fixed_clock(NOW), {"ip": Limit(10, timedelta(hours=1))})
    for n in range(100_001):
        limiter.allow(ip=f"k{n}")
    started = time.perf_counter()
    for n in range(200):
        limiter.allow(ip=f"new{n}")
    per_check = (time.perf_counter() - started) / 200
    assert per_check < 0.0005, f"{per_check * 1e6:.0f} µs a check"  # was 4 ms (a full sweep)


# -- hosts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "paperboy.example.org.evil.example", ""])
def test_a_foreign_host_is_refused(made: World, host: str) -> None:
    with client(context(made)) as c:
        answer = c.get("/signup", headers={"Host": host})
        assert answer.status_code == 400
        assert "Unknown host" in answer.text
        assert "evil" not in answer.text
        assert "set-cookie" not in answer.headers
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value
        posted = c.post("/link", data={"email": "x@example.org"}, headers={"Host": host})
        assert posted.status_code == 400


@pytest.mark.parametrize(
    "host", ["paperboy.example.org", "PAPERBOY.example.org:443", "127.0.0.1:8000", "localhost"]
)
def test_our_hosts_are_answered(made: World, host: str) -> None:
    with client(context(made)) as c:
        assert c.get("/signup", headers={"Host": host}).status_code == 200


def test_more_hosts_can_be_allowed(made: World) -> None:
    ctx = context(made, allowed_hosts=frozenset({"paperboy.internal"}))
    with client(ctx) as c:
        assert c.get("/", headers={"Host": "paperboy.internal"}).status_code == 200
        assert c.get("/", headers={"Host": "paperboy.example.org"}).status_code == 200
        assert c.get("/", headers={"Host": "localhost"}).status_code == 400


def test_the_health_check_answers_any_host(made: World) -> None:
    with client(context(made)) as c:
        answer = c.get("/healthz", headers={"Host": "10.0.0.7:8000"})
        assert answer.json() == {"status": "ok"}
        assert answer.headers["X-Frame-Options"] == "DENY"


def test_the_slash_redirect_goes_to_the_public_url(made: World) -> None:
    with client(context(made), host="127.0.0.1:8000") as c:
        answer = c.get("/signup/?x=1")
        assert answer.status_code == 308
        assert answer.headers["location"] == f"{PUBLIC}/signup?x=1"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        off_site = c.get("http://127.0.0.1:8000//evil.example/")
        assert off_site.status_code == 404  # never a redirect off the site


def test_the_feed_id_is_the_public_url(made: World) -> None:
    sid = made.subscribe("reader@example.org", profiles={"vision": "diffusion"})
    (profile,) = made.people.profiles(sid)
    ctx = context(made)
    subscriber = made.people.require("reader@example.org")
    feed = ctx.tokens.for_subscriber(Purpose.FEED, subscriber.link_key, str(profile.id))
    with client(ctx, host="localhost:8000") as c:
        answer = c.get(f"/f/{feed}")
    assert answer.status_code == 200
    root = ElementTree.fromstring(answer.content)
    assert root.find("{http://www.w3.org/2005/Atom}id").text == f"{PUBLIC}/f/{feed}"


# -- the setting -----------------------------------------------------------------------------


def test_trusted_proxies_are_read_as_networks() -> None:
    settings = load_settings(trusted_proxies=" 127.0.0.1, 10.0.0.0/8 ,::1")
    assert parse_networks(settings.trusted_proxies) == (
        ip_network("127.0.0.1/32"),
        ip_network("10.0.0.0/8"),
        ip_network("::1/128"),
    )
    assert parse_networks("") == ()


def test_a_bad_trusted_proxy_is_a_clear_usage_error(tmp_path: Path) -> None:
    # a real process: were the setting accepted, `web` would serve on here for good
    answer = run(tmp_path, "web", process=True, PAPERBOY_TRUSTED_PROXIES="127.0.0.1, proxy.local")
    assert answer.returncode == 2
    said = " ".join(answer.stderr.split())
    assert "PAPERBOY_TRUSTED_PROXIES" in said
    assert "'proxy.local' is not an IP address or network" in said
    assert "Traceback" not in answer.stderr
