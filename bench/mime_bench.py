"""The hand-written MIME builder (mailer.message.build) against the stdlib email package.

Why mailer/message.py assembles the message itself (its docstring, bench/RESULTS.md "render"):
the email package's EmailMessage took milliseconds a message. This makes that reproducible.
The inputs are the golden digests in tests/data/emails/ read back (recipient, subject,
Message-ID, unsubscribe URL and mailto, text and HTML parts), so what is built is what the
service sends. The baseline builds the same message with EmailMessage and policy.SMTP: the same
headers in the same order, the same cleaned subject, text/plain then text/html, both
quoted-printable UTF-8, then as_bytes(). Before timing, both messages of every input are parsed
back with the email package and compared: same headers (decoded), same parts, same content
types and same text (but for a final line end, which set_content adds where there is none).
Printed: CPU microseconds a message for each, best of the rounds, and the ratio.

Usage: python bench/mime_bench.py [REPEATS=200] [ROUNDS=5]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailer.message import build, clean_subject  # noqa: E402
from mailer.types import OutgoingEmail  # noqa: E402

ARGS = [int(a) for a in sys.argv[1:]]
REPEATS, ROUNDS = (ARGS + [200, 5][len(ARGS) :])[:2]
SENDER = "Paperboy <digest@paperboy.example.org>"
LIST_ID = "Paperboy digest <digest.paperboy.example.org>"
DATE = datetime(2026, 7, 2, 9, 30, tzinfo=UTC)
HEADERS = ("From", "To", "Date", "Message-ID", "Subject", "List-Id", "List-Unsubscribe")
HEADERS2 = ("List-Unsubscribe-Post", "MIME-Version")
PARSER = BytesParser(policy=policy.default)


def inputs() -> dict[str, OutgoingEmail]:
    """Each golden email read back into what the builder is handed."""
    found = {}
    for file in sorted((ROOT / "tests" / "data" / "emails").glob("*.eml")):
        parsed = PARSER.parsebytes(file.read_bytes())
        url, mailto = (u.strip().strip("<>") for u in str(parsed["List-Unsubscribe"]).split(","))
        text, html = (part.get_content() for part in parsed.iter_parts())
        found[file.stem] = OutgoingEmail(
            recipient=str(parsed["To"]),
            subject=str(parsed["Subject"]),
            text=text,
            html=html,
            message_id=str(parsed["Message-ID"]),
            unsubscribe_url=url,
            unsubscribe_mailto=mailto,
        )
    return found


def ours(email: OutgoingEmail) -> bytes:
    return build(email, sender=SENDER, list_id=LIST_ID, date=DATE)


def stdlib(email: OutgoingEmail) -> bytes:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = SENDER
    message["To"] = email.recipient
    message["Date"] = format_datetime(DATE)
    message["Message-ID"] = email.message_id
    message["Subject"] = clean_subject(email.subject)
    message["List-Id"] = LIST_ID
    message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>, <{email.unsubscribe_mailto}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text, cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", cte="quoted-printable")
    return message.as_bytes()


def meaning(data: bytes) -> tuple[object, ...]:
    """What a reader sees of a message: its headers decoded, each part's type and text."""
    parsed = PARSER.parsebytes(data)
    headers = tuple((name, str(parsed[name])) for name in HEADERS + HEADERS2)
    parts = tuple(  # set_content ends a part that does not end a line with one: not compared
        (p.get_content_type(), p.get_content_charset(), p.get_content().rstrip("\r\n"))
        for p in parsed.iter_parts()
    )
    return parsed.get_content_type(), headers, parts


def best(build_one: Callable[[OutgoingEmail], bytes], emails: list[OutgoingEmail]) -> float:
    """CPU microseconds a message (this process's: the machine is shared), best of ROUNDS over
    REPEATS passes through every input."""
    times = []
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(REPEATS):
            for email in emails:
                build_one(email)
        times.append((time.process_time() - start) / (REPEATS * len(emails)))
    return min(times) * 1e6


def main() -> None:
    found = inputs()
    for name, email in found.items():
        built, baseline = ours(email), stdlib(email)
        same = meaning(built) == meaning(baseline)
        print(f"{name:8} {len(built):6} bytes ours, {len(baseline):6} stdlib; same meaning: {same}")
        if not same:
            raise SystemExit(f"{name}: the two messages differ in meaning")
    emails = list(found.values())
    print(f"{len(emails)} inputs x {REPEATS}, best of {ROUNDS}:")
    for name, email in found.items():  # each input apart: the cost grows with the size
        a, b = best(ours, [email]), best(stdlib, [email])
        print(f"  {name:8} mailer.message {a:7.0f} µs  email package {b:7.0f} µs  {b / a:5.1f}x")
    a, b = best(ours, emails), best(stdlib, emails)
    print(f"  all      mailer.message {a:7.0f} µs  email package {b:7.0f} µs  {b / a:5.1f}x")


if __name__ == "__main__":
    main()
