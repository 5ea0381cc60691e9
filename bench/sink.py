"""A minimal, fast SMTP sink for the send benchmark (asyncio, run in its own process).

It reads DATA in one piece instead of line by line (aiosmtpd's line-by-line reading caps near
250 messages/s for 60 KB mails, which would measure the sink, not the sender); it can wait
before each reply like a distant relay and offer STARTTLS.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from typing import Any


async def _session(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: tuple[float, float],
    context: ssl.SSLContext | None,
    counter: list[int],
) -> None:
    async def reply(text: str, wait: bool = False) -> None:
        if wait and delay[1]:
            await asyncio.sleep(random.uniform(*delay))
        writer.write(text.encode() + b"\r\n")
        await writer.drain()

    await reply("220 sink ready")
    try:
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                offer = "250-STARTTLS\r\n" if context is not None else ""
                await reply(f"250-sink\r\n{offer}250-8BITMIME\r\n250 SIZE 20000000")
            elif verb == b"STAR" and context is not None:
                await reply("220 go ahead")
                await writer.start_tls(context)
            elif verb in (b"MAIL", b"RCPT"):
                await reply("250 OK", wait=True)
            elif verb == b"DATA":
                await reply("354 go on")
                await reader.readuntil(b"\r\n.\r\n")
                counter[0] += 1
                await reply("250 accepted", wait=True)
            elif verb == b"QUIT":
                await reply("221 bye")
                break
            else:
                await reply("250 OK")
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def serve(port: int, delay: tuple[float, float], cert: str | None, ready: Any) -> None:
    context = None
    if cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert + ".pem", cert + ".key")
    counter = [0]

    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _session(r, w, delay, context, counter), "127.0.0.1", port, limit=2**24
        )
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())
