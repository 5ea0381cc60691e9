"""A real SMTP server in the test process (aiosmtpd on 127.0.0.1) that can misbehave on cue.

A recipient's local part chooses its fate: ``t421`` ... answer that code at RCPT, ``d554`` answer
it after DATA, ``drop`` close the connection after DATA; anyone else is accepted.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_RCPT = re.compile(r"^r(\d{3})")
_DATA = re.compile(r"^d(\d{3})")


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    fail_next: dict[str, int] = field(default_factory=dict)  # recipient -> times to answer 451
    delay: float = 0.0  # seconds to wait before answering DATA, like a slow relay
    pipelining: bool = False  # offer RFC 2920 PIPELINING in the EHLO answer
    raw: list[bytes] = field(default_factory=list)  # each message's bytes as received (unstuffed)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


class _Handler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        local = address.split("@")[0]
        match = _RCPT.match(local)
        if match:
            return f"{match.group(1)} refused on purpose for {address}"
        with self.inbox.lock:
            left = self.inbox.fail_next.get(address, 0)
            if left:
                self.inbox.fail_next[address] = left - 1
                return "451 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.inbox.delay:
            await asyncio.sleep(self.inbox.delay)
        local = envelope.rcpt_tos[0].split("@")[0]
        match = _DATA.match(local)
        if match:
            return f"{match.group(1)} refused after DATA"
        if local == "drop":
            server.transport.close()  # type: ignore[union-attr]
            return "421 closing"
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.inbox.lock:
            self.inbox.messages.append(message)
            self.inbox.raw.append(content)
        return "250 Message accepted"

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        with self.inbox.lock:
            self.inbox.connections += 1
        session.host_name = hostname
        if self.inbox.pipelining:  # aiosmtpd reads commands one by one: pipelining just works
            responses.insert(-1, "250-PIPELINING")
        return responses


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(_Handler(inbox), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()
