"""Generated input thrown at every route of the real app (real store, real templates): no answer
is a 5xx and every answer carries the security headers.

Hypothesis runs derandomized with a fixed number of examples, so CI sees the same inputs every
time and the whole file stays well under a minute. The forms get a valid CSRF pair (mostly), and
the token routes get valid tokens, garbage and valid tokens with a character changed, so the
generated values reach the parsers behind the checks.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning

from mailer.transports import NullTransport
from paperboy.subscribers import Status
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
from paperboy.web.mails import PageMailer
from paperboy.web.security import SECURITY_HEADERS, Limit
from tests.pages import MovingClock, csrf_of
from tests.world import NOW, SECRET, world

with warnings.catch_warnings():  # Starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PUBLIC = "https://paperboy.example.org"
PLENTY = {  # the limits are tested elsewhere; here they would only hide the routes behind 429
    name: Limit(1_000_000, timedelta(hours=1)) for name in ("ip", "address", "preview")
}
BUDGET = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# What broke or could break a number, time or query parser: Unicode digits, huge numbers, deep
# nesting, control characters, lookalikes.
NASTY = [
    "",
    " ",
    "²",
    "①",
    "٣",
    "߇",
    "𝟡",
    "9" * 5000,
    "-1",
    "1e9",
    "0x10",
    "08:00",
    "²:00",
    "08:²0",
    "①①:①①",
    "٠٨:٣٠",
    "24:00",
    "23:60",
    "99999999999999999999:00",
    "8",
    "8:",
    ":",
    "\x00",
    "\r\n",
    "mon",
    "sun",
    "daily",
    "weekly",
    "weekdays",
    "UTC",
    "Europe/London",
    "../../etc/passwd",
    "Etc/GMT+14",
    "a@b",
    "x@" + "a" * 300 + ".org",
    "reader+tag@example.org",
    "upvotes>=²",
    "upvotes>=①",
    "upvotes>=" + "9" * 5000,
    "stars>=٣",
    "stars>=" + "9" * 5000,
    "(" * 2000 + "x" + ")" * 2000,
    "NOT " * 2000 + "x",
    '"' * 999,
    "a*" * 500,
    "title:" * 300,
    "diffusion OR (video AND NOT upvotes>=10)",
    "save",
    "preview",
    "remove",
    "pause",
    "resume",
    "unsubscribe",
]
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
REPEATED = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["9", "²", "①", "(", ")", "NOT ", "x OR ", '"', "upvotes>=9"]),
    st.integers(0, 6000),
)
VALUE = st.one_of(st.sampled_from(NASTY), TEXT, REPEATED)
# httpx refuses URLs over 64 KB (and servers, at 8-16 KB): 5,000 nines fit, 5,000 '①' do not
IN_URL = VALUE.map(lambda v: v if len(quote(v)) <= 6000 else v[:600])

FORMS = {
    "/signup": ("email", "query", "time", "zone", "frequency", "weekday"),
    "/link": ("email",),
    "/c/{token}": (),
    "/m/{token}/profiles": ("original", "name", "query", "action"),
    "/m/{token}/settings": ("time", "zone", "frequency", "weekday", "max_papers", "send_empty"),
    "/m/{token}/status": ("action",),
    "/u/{token}": (),
}
PAGES = (
    "/",
    "/signup",
    "/link",
    "/healthz",
    "/preview",
    "/static/{token}",
    "/c/{token}",
    "/m/{token}",
    "/u/{token}",
    "/d/{token}",
    "/f/{token}",
)


@dataclass
class Fuzzed:
    client: TestClient
    csrf: str
    tokens: list[str]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "paperboy.db"
    clock = MovingClock()
    with world(f"sqlite:///{path}") as w:
        sid = w.subscribe("reader@example.org")
        w.subscribe("pending@example.org")
        w.people.set_status("pending@example.org", Status.PENDING, NOW)
        (profile,) = w.people.profiles(sid)
        tokens = Tokens(SECRET, clock)
        mailer = PageMailer(
            NullTransport, "Paperboy <p@paperboy.example.org>", PUBLIC, tokens, clock
        )
        context = WebContext(
            w.engine,
            tokens,
            clock,
            mailer,
            PLENTY,
            PUBLIC,
            allowed_hosts=frozenset({"testserver"}),  # what TestClient sends
        )
        key = w.people.require("reader@example.org").link_key
        waiting = w.people.require("pending@example.org").link_key
        valid = [
            tokens.for_subscriber(Purpose.MANAGE, key),
            tokens.for_subscriber(Purpose.UNSUBSCRIBE, key),
            tokens.for_subscriber(Purpose.FEED, key, str(profile.id)),
            tokens.for_subscriber(Purpose.ARCHIVE, key, "2026-07-02"),
            tokens.for_subscriber(Purpose.CONFIRM, waiting),
            tokens.make(Purpose.UNSUBSCRIBE, sid),  # the older form, by row id
            tokens.make(Purpose.MANAGE, "not-a-number"),
            tokens.make(Purpose.FEED, "x:y"),
            tokens.for_subscriber(Purpose.ARCHIVE, key, "9" * 5000),
            "pages.js",
        ]
        with TestClient(create_app(context), follow_redirects=False) as client:
            csrf = csrf_of(client.get("/signup").text)
            yield Fuzzed(client, csrf, valid)


def token_of(fuzzed: Fuzzed) -> st.SearchStrategy[str]:
    mutated = st.builds(
        lambda t, i, c: t[: i % (len(t) + 1)] + c + t[i % (len(t) + 1) + 1 :],
        st.sampled_from(fuzzed.tokens),
        st.integers(0, 200),
        st.characters(exclude_categories=["Cs"]),
    )
    valid = st.sampled_from(fuzzed.tokens)
    return st.one_of(valid, valid, valid, mutated, IN_URL)  # mostly past the token check


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)


@BUDGET
@given(data=st.data())
def test_pages_never_answer_5xx(fuzzed: Fuzzed, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(PAGES))
    path = route.replace("{token}", quote(data.draw(token_of(fuzzed)), safe=""))
    params = data.draw(
        st.dictionaries(st.sampled_from(["q", "compact", "saved", "x"]), IN_URL, max_size=3)
    )
    check(fuzzed.client.get(path, params=params))


@BUDGET
@given(data=st.data())
def test_forms_never_answer_5xx(fuzzed: Fuzzed, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(sorted(FORMS)))
    path = route.replace("{token}", quote(data.draw(token_of(fuzzed)), safe=""))
    form = data.draw(
        st.fixed_dictionaries({}, optional=dict.fromkeys(FORMS[route], VALUE)), label="form"
    )
    csrf = data.draw(st.one_of(st.just(fuzzed.csrf), st.just(fuzzed.csrf), TEXT), label="csrf")
    check(fuzzed.client.post(path, data={"csrf": csrf, **form}))


@BUDGET
@given(
    method=st.sampled_from(["PUT", "DELETE", "PATCH", "OPTIONS", "POST", "GET"]),
    path=st.text(st.characters(exclude_categories=["Cs"]), max_size=60),
)
def test_any_method_on_any_path(fuzzed: Fuzzed, method: str, path: str) -> None:
    check(fuzzed.client.request(method, "/" + quote(path, safe="/?=&")))


# -- the pages for what no route answers -----------------------------------------------------


def secured_page(response: httpx.Response, status: int) -> str:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    check_headers(response)
    assert "Traceback" not in response.text
    return response.text


def check_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


def test_not_found_is_a_page_with_the_headers(fuzzed: Fuzzed) -> None:
    assert "There is no page at this address" in secured_page(fuzzed.client.get("/nope"), 404)


def test_a_wrong_method_is_a_page_with_the_headers(fuzzed: Fuzzed) -> None:
    answer = fuzzed.client.delete("/signup")
    assert "does not take that kind of request" in secured_page(answer, 405)
    assert "GET" in answer.headers["allow"]


def test_a_value_of_the_wrong_type_is_a_page_with_the_headers(fuzzed: Fuzzed) -> None:
    answer = fuzzed.client.get("/preview", params={"q": "x", "compact": "banana"})
    assert "a value it cannot use: compact" in secured_page(answer, 422)


def test_health_and_redirects_carry_the_headers(fuzzed: Fuzzed) -> None:
    check_headers(fuzzed.client.get("/healthz"))
    moved = fuzzed.client.get("/signup/")
    assert moved.status_code == 308
    check_headers(moved)


def test_an_unexpected_failure_is_a_page_with_the_headers(sqlite_url: str) -> None:
    with world(sqlite_url) as w:
        clock = MovingClock()
        context = WebContext(
            w.engine, Tokens(SECRET, clock), clock, allowed_hosts=frozenset({"testserver"})
        )
        app = create_app(context)

        @app.get("/boom")
        def boom() -> None:
            raise RuntimeError("a bug with a secret in it")

        with TestClient(app, raise_server_exceptions=False) as client:
            text = secured_page(client.get("/boom"), 500)
    assert "Something went wrong" in text
    assert "secret" not in text
