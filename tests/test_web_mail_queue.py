"""The sign-up and link pages answer at once and the same for every address: the mail they
cause is worked out and sent by a queue off the request, retried when the relay says "later"."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import httpx
import pytest
from fastapi import FastAPI

from mailer.transports import BeforeData, SendError
from mailer.types import Envelope
from paperboy.tokens import Tokens
from paperboy.web.app import WebContext, create_app
from paperboy.web.mails import PageMailer
from paperboy.web.outgoing import MailQueue
from paperboy.web.security import Limit
from tests.pages import MovingClock, csrf_of
from tests.web_server import serving
from tests.world import SECRET, World, world

PUBLIC = "https://paperboy.example.org"
FAST_RETRIES = (0.05, 0.1, 0.2)


@dataclass
class Relay:
    """A transport the test steers: it may hold every message until released, or refuse."""

    released: threading.Event = field(default_factory=threading.Event)
    refuse: list[SendError] = field(default_factory=list)  # answers for the next attempts
    sent: list[EmailMessage] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.released.set()

    async def send(self, message: Envelope, before_data: BeforeData) -> int:
        while not self.released.is_set():  # a relay that takes its time (seconds, minutes)
            await _pause()
        with self.lock:
            self.attempts += 1
            if self.refuse:
                raise self.refuse.pop(0)
        await before_data()
        parsed = message_from_bytes(message.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.sent.append(parsed)
        return 250

    async def close(self) -> None:
        pass

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.sent if m["To"] == address]


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.01)


@dataclass
class Web:
    base: str
    world: World
    relay: Relay
    app: FastAPI
    client: httpx.Client

    @property
    def queue(self) -> MailQueue:
        queue = self.app.state.mail_queue
        assert isinstance(queue, MailQueue)
        return queue

    def drain(self) -> None:
        assert self.queue.drain(timeout=10), "the mail queue did not drain"


@contextmanager
def web(database_url: str, **context: object) -> Iterator[Web]:
    clock = MovingClock()
    relay = Relay()
    with world(database_url) as w:
        tokens = Tokens(SECRET, clock)
        mailer = PageMailer(
            transports=lambda: relay,
            sender="Paperboy <hello@paperboy.example.org>",
            public_url=PUBLIC,
            tokens=tokens,
            clock=clock,
        )
        roomy = {name: Limit(1000, timedelta(hours=1)) for name in ("ip", "address", "preview")}
        values: dict[str, object] = {"mail_retries": FAST_RETRIES, "limits": roomy} | context
        app = create_app(
            WebContext(w.engine, tokens, clock, mailer, public_url=PUBLIC, **values)  # type: ignore[arg-type]
        )
        try:
            with serving(app) as base, httpx.Client(base_url=base, timeout=5) as client:
                yield Web(base, w, relay, app, client)
        finally:
            relay.released.set()  # never leave the worker stuck behind a failed assertion


@pytest.fixture
def site(database_url: str) -> Iterator[Web]:
    with web(database_url) as s:
        yield s


def sign_up(client: httpx.Client, email: str, query: str = "diffusion") -> httpx.Response:
    csrf = csrf_of(client.get("/signup").text)
    form = {"csrf": csrf, "email": email, "query": query, "time": "07:30", "zone": "UTC"}
    return client.post("/signup", data=form)


def ask_link(client: httpx.Client, email: str) -> httpx.Response:
    csrf = csrf_of(client.get("/link").text)
    return client.post("/link", data={"csrf": csrf, "email": email})


def _in_state(s: Web, address: str, state: str) -> None:
    if state == "unknown":
        return
    if state == "pending":
        assert sign_up(s.client, address).status_code == 200
        s.drain()
        return
    s.world.subscribe(address)
    if state != "active":
        s.world.people.set_status(address, state, s.world.now)


STATES = ("unknown", "pending", "active", "paused", "unsubscribed", "bounced")


@pytest.mark.parametrize("page", ["signup", "link"])
def test_a_relay_that_takes_its_time_does_not_delay_the_answer(site: Web, page: str) -> None:
    site.world.subscribe("known@example.org")  # /link mails only subscribers
    site.relay.released.clear()
    started = time.perf_counter()
    if page == "signup":
        answer = sign_up(site.client, "known@example.org")
    else:
        answer = ask_link(site.client, "known@example.org")
    took = time.perf_counter() - started
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    assert took < 1.0, f"the answer waited for the relay: {took:.2f} s"
    assert site.relay.sent == []  # still held
    site.relay.released.set()
    site.drain()
    (mail,) = site.relay.to("known@example.org")  # and delivered afterwards
    assert "/m/" in mail.get_content()


@pytest.mark.parametrize("page", ["signup", "link"])
def test_every_address_state_gets_the_same_answer(site: Web, page: str) -> None:
    answers = {}
    for state in STATES:
        address = f"{state}@example.org"
        _in_state(site, address, state)
        site.relay.released.clear()  # nothing the relay does may show in the answer
        if page == "signup":
            answer = sign_up(site.client, address)
        else:
            answer = ask_link(site.client, address)
        answers[state] = (answer.status_code, answer.text.replace(address, "X"))
        site.relay.released.set()
        site.drain()
    assert len(set(answers.values())) == 1, answers
    assert answers["unknown"][0] == 200


def test_the_queue_does_the_state_dependent_work(site: Web) -> None:
    """What each state gets once the queue ran: the mail differs, the page did not."""
    for state in STATES:
        address = f"{state}@example.org"
        _in_state(site, address, state)
        sign_up(site.client, address)
        ask_link(site.client, address)
    site.drain()
    subjects = {
        state: sorted(m["Subject"] for m in site.relay.to(f"{state}@example.org"))
        for state in STATES
    }
    confirm, link = "Confirm your Paperboy digest", "Your Paperboy settings link"
    assert subjects == {
        "unknown": [confirm],
        "pending": [confirm, confirm],  # the first sign-up's, and the one just asked for
        "active": [link, link],
        "paused": [link, link],
        "unsubscribed": [confirm],
        "bounced": [],
    }
    assert site.world.people.require("unknown@example.org").status == "pending"
    assert site.world.people.require("unsubscribed@example.org").status == "pending"


@pytest.mark.parametrize("page", ["signup", "link"])
def test_a_relay_that_says_later_gets_200_and_the_mail_is_retried(site: Web, page: str) -> None:
    site.world.subscribe("known@example.org")
    later = SendError("451 try again later", code=451, permanent=False)
    site.relay.refuse[:] = [later, later]
    answer = (sign_up if page == "signup" else ask_link)(site.client, "known@example.org")
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    site.drain()
    assert site.relay.attempts == 3
    assert len(site.relay.to("known@example.org")) == 1


def test_a_relay_that_refuses_for_good_gets_200_and_the_failure_is_logged(
    site: Web, caplog: pytest.LogCaptureFixture
) -> None:
    site.relay.refuse[:] = [SendError("550 no such user", code=550, permanent=True)]
    with caplog.at_level(logging.WARNING, logger="paperboy.web.outgoing"):
        answer = sign_up(site.client, "gone@example.org")
        assert answer.status_code == 200
        site.drain()
    assert site.relay.attempts == 1  # never tried again
    assert site.relay.sent == []
    assert any("550 no such user" in r.getMessage() for r in caplog.records)


def test_a_relay_that_never_takes_it_is_given_up_on_and_logged(
    site: Web, caplog: pytest.LogCaptureFixture
) -> None:
    later = SendError("451 try again later", code=451, permanent=False)
    site.relay.refuse[:] = [later] * 10
    with caplog.at_level(logging.WARNING, logger="paperboy.web.outgoing"):
        assert sign_up(site.client, "late@example.org").status_code == 200
        site.drain()
    assert site.relay.attempts == 1 + len(FAST_RETRIES)
    assert any("gave up" in r.getMessage() for r in caplog.records)


def test_the_worker_stops_with_the_app(database_url: str) -> None:
    def workers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "paperboy-mail"}

    before = workers()  # (an app another test never started up or shut down may have one)
    with web(database_url) as s:
        assert sign_up(s.client, "reader@example.org").status_code == 200
        s.drain()
        queue = s.queue
        assert workers() - before  # this app's worker ran ...
    assert not queue.running
    assert not workers() - before  # ... and is gone with the app


# -- the queue itself ---------------------------------------------------------------------------


def test_a_full_queue_refuses_more_work_without_blocking() -> None:
    held = threading.Event()
    sent: list[str] = []

    def send(envelope: Envelope) -> None:
        held.wait(5)
        sent.append(envelope.recipient)

    queue = MailQueue(send, capacity=2, retries=FAST_RETRIES)
    try:
        letter = Envelope("a@example.org", "b@example.org", "<1@example.org>", b"x")
        assert queue.submit("one", lambda: [letter])
        assert queue.submit("two", lambda: [letter])
        started = time.perf_counter()
        assert not queue.submit("three", lambda: [letter])
        assert time.perf_counter() - started < 0.5
        held.set()
        assert queue.drain(timeout=5)
        assert sent == ["b@example.org", "b@example.org"]
        assert queue.submit("four", lambda: [letter])  # room again
        assert queue.drain(timeout=5)
    finally:
        held.set()
        queue.close()
    assert not queue.running


def test_a_job_whose_preparation_fails_is_retried_then_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []
    sent: list[Envelope] = []
    letter = Envelope("a@example.org", "b@example.org", "<1@example.org>", b"x")

    def prepare() -> list[Envelope]:
        calls.append(1)
        if len(calls) < 2:
            raise RuntimeError("the database went away")
        return [letter]

    queue = MailQueue(sent.append, capacity=10, retries=FAST_RETRIES)
    try:
        with caplog.at_level(logging.WARNING, logger="paperboy.web.outgoing"):
            assert queue.submit("sign-up", prepare)
            assert queue.drain(timeout=5)
    finally:
        queue.close()
    assert len(calls) == 2
    assert sent == [letter]
    assert any("the database went away" in r.getMessage() for r in caplog.records)


def test_closing_gives_up_waiting_retries_and_returns_promptly() -> None:
    def send(envelope: Envelope) -> None:
        raise SendError("451 later", code=451, permanent=False)

    queue = MailQueue(send, capacity=10, retries=(60.0,))
    letter = Envelope("a@example.org", "b@example.org", "<1@example.org>", b"x")
    assert queue.submit("one", lambda: [letter])
    time.sleep(0.2)  # the first attempt fails; the retry waits a minute
    started = time.perf_counter()
    queue.close(timeout=5)
    assert time.perf_counter() - started < 2
    assert not queue.running


def test_closing_sends_what_is_due_first() -> None:
    sent: list[str] = []

    def send(envelope: Envelope) -> None:
        time.sleep(0.2)  # a relay's round trips
        sent.append(envelope.recipient)

    queue = MailQueue(send, capacity=10, retries=FAST_RETRIES)
    for n in range(3):
        letter = Envelope("a@example.org", f"r{n}@example.org", f"<{n}@example.org>", b"x")
        assert queue.submit(f"job {n}", lambda letter=letter: [letter])
    queue.close(timeout=5)  # as the app stops: SIGTERM to `paperboy web`
    assert sent == ["r0@example.org", "r1@example.org", "r2@example.org"]
    assert not queue.submit("late", lambda: [])  # closed: refused, never lost silently
