"""Transports behind one Protocol: SMTP (mailer.smtp), an outbox folder of .eml files, null.

The Protocol is asynchronous: one event loop drives every connection of a send (threads, one
per connection, spent most of the CPU contending for the GIL). Each ``send`` awaits
``before_data`` right before the point of no return (SMTP DATA, the outbox rename), so the
ledger can tell "never handed over" from "maybe handed over" after a crash.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from base.errors import DeliveryError
from mailer.types import Envelope

BeforeData = Callable[[], Awaitable[None]]


class SendError(DeliveryError):
    """The transport did not take one message.

    ``permanent`` says whether to try it again; ``step`` where the conversation failed
    (``connect``, ``greeting``, ``EHLO``, ``STARTTLS``, ``AUTH``, ``MAIL FROM``, ``RCPT TO``,
    ``DATA``, ``message`` while sending it, ``end of data`` for the final reply, ``address``
    before any byte); ``recipient_refused`` whether it is about that recipient: a reply to its
    RCPT TO, a 5xx to the DATA of its message (one recipient per message), or an address
    that cannot be sent to. Only a permanent refusal of the recipient may count as a bounce.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None,
        permanent: bool,
        step: str = "",
        recipient_refused: bool = False,
        hint: str = "",
    ) -> None:
        self.code = code
        self.permanent = permanent
        self.step = step
        self.recipient_refused = recipient_refused
        super().__init__(message, hint=hint)


class RelayError(SendError):
    """The relay, or our own sender or login, refused us: no message can go through it as
    configured, and it says nothing about any recipient. A sending run stops at once, leaves
    every delivery waiting (no attempt counted) and tells the operator; it is not a reason to
    try this message again sooner than the next run."""

    def __init__(self, message: str, *, code: int | None, step: str, hint: str = "") -> None:
        super().__init__(
            message,
            code=code,
            permanent=False,
            step=step,
            hint=hint,  # none: the application words it (paperboy.sending.RELAY_HINT)
        )


class Unconfirmed(SendError):
    """The whole message went out and the relay's final reply never came (it hung up or said
    nothing in time): it may have been delivered. At most once: never sent again."""

    def __init__(self, message: str) -> None:
        super().__init__(
            f"{message}: no answer after the whole message was sent, it may have been delivered",
            code=None,
            permanent=True,
            step="end of data",
            hint="not sent again (at most once)",
        )


class Transport(Protocol):
    async def send(self, message: Envelope, before_data: BeforeData) -> int:
        """Hand the message over; return the SMTP-like code (250). Raise SendError otherwise."""
        ...

    async def close(self) -> None: ...


def send_now(transport: Transport, message: Envelope) -> int:
    """Send one message from synchronous code (a notice, an alert), then close the transport."""

    async def nothing() -> None:
        pass

    async def once() -> int:
        try:
            return await transport.send(message, nothing)
        finally:
            await transport.close()

    return asyncio.run(once())


def is_permanent(code: int) -> bool:
    """5xx is permanent, except 552 (mailbox full, "exceeded storage allocation")."""
    return 500 <= code < 600 and code != 552


class NullTransport:
    """Discards everything (but still walks the ledger): for dry runs and tests."""

    async def send(self, message: Envelope, before_data: BeforeData) -> int:
        await before_data()
        return 250

    async def close(self) -> None:
        pass


class OutboxTransport:
    """Writes each message as an .eml file; the default on a fresh machine."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _unwritable(directory, e) from e

    async def send(self, message: Envelope, before_data: BeforeData) -> int:
        name = message.message_id.strip("<>").split("@")[0] + ".eml"
        try:
            temporary = await asyncio.to_thread(self._write, message.data)  # fsync off the loop
        except OSError as e:  # a full or read-only disk, a folder gone: no message can go
            raise _unwritable(self.directory, e) from e
        try:
            await before_data()
            os.replace(temporary, self.directory / name)  # atomic: a whole file or none
        except OSError as e:  # not renamed: it never left
            temporary.unlink(missing_ok=True)
            raise _unwritable(self.directory, e) from e
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return 250

    def _write(self, data: bytes) -> Path:
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return Path(temporary)

    async def close(self) -> None:
        pass


def _unwritable(directory: Path, error: OSError) -> RelayError:
    """The outbox cannot take any message: the run stops and every digest waits."""
    return RelayError(
        f"cannot write to the outbox folder {directory}: {error.strerror or error}",
        code=None,
        step="outbox",
        hint="make PAPERBOY_OUTBOX_DIR a folder this user can write, on a disk with free space; "
        "the digests wait and go out on the next run",
    )
