"""The hand-written SMTP client (mailer/smtp.py) against aiosmtplib, over the same loopback sink.

Why mailer/smtp.py exists (its docstring, bench/RESULTS.md "send"): aiosmtplib cost more CPU a
message. This makes that reproducible. Both clients send the same N messages (the golden
digests tests/data/emails/many.eml and normal.eml in turn, ~59 KB on average, CRLF) over C
reused connections, all on one event loop, to bench/sink.py in its own process answering at
once, in two settings: plain SMTP and STARTTLS with a self-signed certificate. Neither client
pipelines (the sink does not offer PIPELINING), so both have the same conversation: MAIL, RCPT,
DATA, the message. Printed for each: messages a second and this process's CPU time a message
(the sink's CPU is in its own process), best of the rounds, clients alternating.

Usage: python bench/smtp_client_bench.py [N=4000] [C=8] [ROUNDS=3]
aiosmtplib is not a runtime dependency: `pip install -e '.[bench]'` (pyproject's bench extra).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.send_bench import free_port, self_signed  # noqa: E402
from bench.sink import serve  # noqa: E402
from mailer.smtp import SmtpConfig, SmtpTransport  # noqa: E402
from mailer.types import Envelope  # noqa: E402

ARGS = [int(a) for a in sys.argv[1:]]
MESSAGES, CONNECTIONS, ROUNDS = (ARGS + [4000, 8, 3][len(ARGS) :])[:3]
SENDER = "digest@paperboy.example.org"
EMAILS = ROOT / "tests" / "data" / "emails"

Sender = Callable[[int, list[bytes], str, int, bool], Awaitable[None]]


async def ours(port: int, messages: list[bytes], recipient: str, count: int, tls: bool) -> None:
    """One connection of the project's client, sending ``count`` messages."""
    config = SmtpConfig("127.0.0.1", port, "starttls" if tls else "none", verify_tls=False)
    transport = SmtpTransport(config)

    async def nothing() -> None:
        pass

    try:
        for i in range(count):
            envelope = Envelope(SENDER, recipient, f"<{i}@b>", messages[i % len(messages)])
            await transport.send(envelope, nothing)
    finally:
        await transport.close()


async def theirs(port: int, messages: list[bytes], recipient: str, count: int, tls: bool) -> None:
    """One connection of aiosmtplib, sending ``count`` messages."""
    import aiosmtplib

    client = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=port, start_tls=tls, validate_certs=False, timeout=60
    )
    await client.connect()
    try:
        for i in range(count):
            await client.sendmail(SENDER, [recipient], messages[i % len(messages)])
    finally:
        await client.quit()


def measure(client: Sender, port: int, messages: list[bytes], tls: bool) -> tuple[float, float]:
    """Messages a second and CPU milliseconds a message of this process, C connections."""
    share = [MESSAGES // CONNECTIONS + (k < MESSAGES % CONNECTIONS) for k in range(CONNECTIONS)]

    async def everyone() -> None:
        await asyncio.gather(
            *(client(port, messages, f"reader{k}@example.org", n, tls) for k, n in enumerate(share))
        )

    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(everyone())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return MESSAGES / wall, cpu * 1000 / MESSAGES


def setting(directory: Path, messages: list[bytes], tls: bool) -> dict[str, list[float]]:
    port = free_port()
    ready = multiprocessing.Event()
    cert = self_signed(directory) if tls else None
    sink = multiprocessing.Process(target=serve, args=(port, (0.0, 0.0), cert, ready), daemon=True)
    sink.start()
    ready.wait(10)
    found: dict[str, list[float]] = {"mailer.smtp": [0.0, 1e9], "aiosmtplib": [0.0, 1e9]}
    try:
        for _ in range(ROUNDS):
            for name, client in (("mailer.smtp", ours), ("aiosmtplib", theirs)):
                rate, cpu = measure(client, port, messages, tls)
                found[name] = [max(found[name][0], rate), min(found[name][1], cpu)]
    finally:
        sink.terminate()
    return found


def main() -> None:
    try:
        import aiosmtplib
    except ImportError:
        print("aiosmtplib is not installed: pip install -e '.[bench]' (skipped)")
        return
    messages = [(EMAILS / name).read_bytes() for name in ("many.eml", "normal.eml")]
    mean = sum(map(len, messages)) / len(messages) / 1024
    print(
        f"{MESSAGES} messages (mean {mean:.0f} KiB) over {CONNECTIONS} reused connections, "
        f"best of {ROUNDS}; aiosmtplib {aiosmtplib.__version__}"
    )
    with tempfile.TemporaryDirectory() as directory:
        for tls in (False, True):
            found = setting(Path(directory), messages, tls)
            (rate, cpu), (base_rate, base_cpu) = found["mailer.smtp"], found["aiosmtplib"]
            label = "STARTTLS" if tls else "plain   "
            print(
                f"{label} mailer.smtp {rate:6.0f} msg/s {cpu:.2f} ms CPU/msg | aiosmtplib "
                f"{base_rate:6.0f} msg/s {base_cpu:.2f} ms CPU/msg | "
                f"{rate / base_rate:.2f}x the rate, {base_cpu / cpu:.2f}x less CPU"
            )


if __name__ == "__main__":
    main()
