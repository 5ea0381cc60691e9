"""Fakes at the I/O edges, for tests whose point is a rule and not the wire.

``FakeTime``: sleeping advances the clock, nothing waits (the politeness tests).
``FakeFetcher``: hands out prepared ``FetchOutcome``s (the store stays real).
``FakeTransport``: answers each recipient's attempts from a script (accept, a 4xx or 5xx,
a timeout before or after DATA, a refusal of the relay itself), in memory. The SMTP client's
own tests, and those about the conversation, keep the real servers (tests/smtp_server.py,
tests/misbehaving_smtp.py).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from mailer.transports import BeforeData, RelayError, SendError, Unconfirmed, is_permanent
from mailer.types import Envelope
from scraper.models import FetchOutcome, Validators
from scraper.sources import Source


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeFetcher:
    """A fetcher handing out prepared outcomes, one per ``fetch``, in order."""

    def __init__(self, outcomes: Iterable[FetchOutcome]) -> None:
        self._outcomes = iter(outcomes)
        self.asked: list[Source] = []

    def fetch(self, source: Source, validators: Validators | None = None) -> FetchOutcome:
        self.asked.append(source)
        return next(self._outcomes)

    def api_url(self, source: Source) -> str:
        return f"https://huggingface.co/api/{source.label}"


# -- the transport --------------------------------------------------------------------------

# One attempt's answer: given the message and the before-DATA hook, return a code or raise.
Reply = Callable[[Envelope, BeforeData], Awaitable[int]]


def accept(code: int = 250) -> Reply:
    """The whole message taken."""

    async def reply(message: Envelope, before_data: BeforeData) -> int:
        await before_data()
        return code

    return reply


def refuse(code: int, step: str = "RCPT TO") -> Reply:
    """A reply ``code`` at ``step``, classified as mailer.smtp does for a reader's message: a
    reply to RCPT TO is about the recipient, and so is a 5xx to its DATA; 421 is the relay
    closing. A refusal at DATA or after it comes once the point of no return was announced."""

    async def reply(message: Envelope, before_data: BeforeData) -> int:
        permanent = is_permanent(code)
        if step in ("DATA", "end of data"):
            await before_data()
        about = code != 421 and (
            step == "RCPT TO" or (permanent and step in ("DATA", "end of data"))
        )
        raise SendError(
            f"{step} refused: {code} refused on purpose for {message.recipient}",
            code=code,
            permanent=permanent,
            step=step,
            recipient_refused=about,
        )

    return reply


def timeout_before_data(step: str = "RCPT TO") -> Reply:
    """No answer in time before DATA: the message never left (temporary)."""

    async def reply(message: Envelope, before_data: BeforeData) -> int:
        raise SendError(
            "the SMTP connection failed: timed out", code=None, permanent=False, step=step
        )

    return reply


def timeout_after_data() -> Reply:
    """The whole message sent and no final reply: it may have arrived (never sent again)."""

    async def reply(message: Envelope, before_data: BeforeData) -> int:
        await before_data()
        raise Unconfirmed(f"no final reply for {message.recipient}")

    return reply


def unreachable() -> Reply:
    """Nothing listens where the relay should be (temporary, counts toward the breaker)."""

    async def reply(message: Envelope, before_data: BeforeData) -> int:
        raise SendError(
            "cannot reach the SMTP server 127.0.0.1:25: connection refused",
            code=None,
            permanent=False,
            step="connect",
        )

    return reply


def relay_refusal(code: int = 530, step: str = "MAIL FROM") -> Reply:
    """The relay refuses us (our login, our sender): the run stops, no reader is blamed."""

    async def reply(message: Envelope, before_data: BeforeData) -> int:
        raise RelayError(f"{step} refused: {code} authentication required", code=code, step=step)

    return reply


@dataclass
class FakeTransport:
    """A Transport answering from ``script``: each recipient's list of replies, one per
    attempt, then ``default`` (changeable between runs: a relay down, then back). Share one
    instance between workers (``lambda: fake``); it is thread-safe."""

    script: dict[str, list[Reply]] = field(default_factory=dict)
    default: Reply = field(default_factory=accept)
    delivered: list[Envelope] = field(default_factory=list)  # messages taken, in order
    attempts: list[str] = field(default_factory=list)  # recipients tried, in order
    closed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def to(self, recipient: str) -> list[Envelope]:
        with self._lock:
            return [m for m in self.delivered if m.recipient == recipient]

    @property
    def recipients(self) -> list[str]:
        with self._lock:
            return [m.recipient for m in self.delivered]

    async def send(self, message: Envelope, before_data: BeforeData) -> int:
        with self._lock:
            self.attempts.append(message.recipient)
            left = self.script.get(message.recipient)
            reply = left.pop(0) if left else self.default
        code = await reply(message, before_data)
        with self._lock:
            self.delivered.append(message)
        return code

    async def close(self) -> None:
        with self._lock:
            self.closed += 1
