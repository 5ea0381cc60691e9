"""The delivery run's circuit breaker: a relay that fails to connect or answer several times in a
row stops the run for that relay, instead of costing a timeout per subscriber."""

from __future__ import annotations

import asyncio
import logging

from mailer.transports import BeforeData, SendError, Transport
from mailer.types import Envelope

log = logging.getLogger(__name__)


def relay_trouble(error: SendError) -> bool:
    """A failure of the relay or the way to it (no connection, a timeout, a hang-up, a 421
    "closing"), not an answer about this message or its recipient."""
    return not error.recipient_refused and (error.code is None or error.code == 421)


class Breaker:
    """Counts relay failures in a row over every connection of one run; trips once."""

    def __init__(self, limit: int, tripped: asyncio.Event) -> None:
        self._limit, self._tripped = limit, tripped
        self._row = 0
        self.reason: str | None = None

    def saw(self, error: SendError | None) -> None:
        """One message's outcome: None when the relay took it (or answered about it)."""
        if error is None or not relay_trouble(error):
            self._row = 0
            return
        self._row += 1
        if self._row >= self._limit and self.reason is None:
            self.reason = (
                f"stopped after {self._row} connection failures in a row with the mail relay "
                f"(the last: {error.message}); the digests not tried yet wait for the next run"
            )
            log.error("delivery: %s", self.reason)
            self._tripped.set()


class Watched:
    """A connection's transport, its outcomes told to the run's breaker."""

    def __init__(self, transport: Transport, breaker: Breaker) -> None:
        self._transport, self._breaker = transport, breaker

    async def send(self, message: Envelope, before_data: BeforeData) -> int:
        try:
            code = await self._transport.send(message, before_data)
        except SendError as e:
            self._breaker.saw(e)
            raise
        self._breaker.saw(None)
        return code

    async def close(self) -> None:
        await self._transport.close()
