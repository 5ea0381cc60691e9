"""Digest emails: golden files, every produced message parsed back, hostile text kept harmless."""

from __future__ import annotations

import dataclasses
import os
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import text

from mailer.message import clean_subject
from scraper.models import ScrapedPaper
from tests.papers import saved_papers
from tests.world import world

GOLDEN = Path(__file__).parent / "data" / "emails"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def produce(
    database_url: str, *, papers: tuple[ScrapedPaper, ...] | None = None, **subscriber: object
) -> bytes:
    """The message a subscriber would be sent now, as built at composition."""
    with world(database_url, papers=papers) as w:
        w.subscribe("reader@example.org", **subscriber)
        with w.engine.begin() as connection:  # link keys are random: pin one
            connection.execute(text("UPDATE subscribers SET link_key = 'golden-link-key-000001'"))
        record = w.dispatcher().preview(w.people.require("reader@example.org"))
        return record.message


def normalised(raw: bytes) -> bytes:
    raw = re.sub(rb"digest\.[0-9a-f]{32}@", b"digest.MESSAGE-ID@", raw)
    return re.sub(rb"=_paperboy_[0-9a-f]{24}", b"=_paperboy_BOUNDARY", raw)


def check_golden(name: str, raw: bytes) -> None:
    path = GOLDEN / f"{name}.eml"
    if UPDATE or not path.exists():
        path.write_bytes(normalised(raw))
        if not UPDATE:
            pytest.fail(f"{path} did not exist and was written: review it, then run again")
    assert normalised(raw) == path.read_bytes()


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["From"] == "Paperboy <digest@paperboy.example.org>"
    assert message["To"] == "reader@example.org"
    assert message["Date"] == "Thu, 02 Jul 2026 09:30:00 +0000"
    assert re.fullmatch(r"<digest\.[0-9a-f]{32}@paperboy\.example\.org>", message["Message-ID"])
    assert message["List-Id"] == "Paperboy digest <digest.paperboy.example.org>"
    unsubscribe = " ".join(message["List-Unsubscribe"].split())  # folding adds whitespace
    https, mailto = unsubscribe.split(", ")
    assert re.fullmatch(r"<https://paperboy\.example\.org/u/[\w.-]+>", https)
    assert re.fullmatch(
        r"<mailto:digest@paperboy\.example\.org\?subject=unsubscribe%20[\w.-]+>", mailto
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert "\n" not in message["Subject"]
    assert "\r" not in message["Subject"]
    return message


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def test_a_normal_digest(sqlite_url: str) -> None:
    raw = produce(sqlite_url, limit=5)
    message = parsed(raw)
    text, html = bodies(message)
    assert message["Subject"].startswith("Paperboy · ")
    assert "new papers for you · Thursday 2 July 2026" in text
    assert html.count('class="paper"') == 5
    assert "<mark" in html  # matched words are highlighted
    assert 'style="' in html
    style = LexborHTMLParser(html).css("style")  # only what cannot be inlined: @media rules
    assert [node.text().lstrip().startswith("@media") for node in style] == [True]
    assert "And " in text
    assert "more: https://paperboy.example.org/d/" in text
    check_golden("normal", raw)


def test_many_papers_are_trimmed_under_100_kb(sqlite_url: str) -> None:
    raw = produce(
        sqlite_url,
        limit=100,
        profiles={"everything": "model* OR learning OR agent* OR video OR language OR data*"},
    )
    assert len(raw) < 100_000
    text, html = bodies(parsed(raw))
    shown = html.count('class="paper"')
    assert 1 < shown < 100
    more = re.search(r"And (\d+) more", text)
    assert more is not None
    assert int(more.group(1)) > 0
    check_golden("many", raw)


HOSTILE = dataclasses.replace(
    saved_papers()[0],
    arxiv_id="2607.99999",
    title=(
        'Diffusion <script>alert("x")</script>\r\nBcc: victim@example.org '
        "<img src=x onerror=alert(1)>"
    ),
    summary='Video diffusion </p><a href="javascript:alert(1)">click</a> & "quotes"',
    ai_summary=None,
    authors=("Eve <eve@example.org>", "Mallory \"'&"),
    github_repo="javascript:alert(1)",
    project_page="data:text/html,<script>alert(1)</script>",
    thumbnail='https://example.org/x.png"><script>alert(1)</script>',
    organization="<b>Org</b>",
)


def test_hostile_scraped_text_stays_text(sqlite_url: str) -> None:
    raw = produce(sqlite_url, papers=(HOSTILE,), profiles={"p": "diffusion"})
    message = parsed(raw)
    _text, html = bodies(message)
    assert "Bcc" not in message  # the CR/LF in the title injected no header
    assert message["Subject"] == clean_subject(message["Subject"])
    tree = LexborHTMLParser(html)
    assert tree.css("script, b, img[onerror]") == []  # scraped markup made no element
    for node in tree.css("[href], [src]"):
        link = node.attributes.get("href") or node.attributes.get("src") or ""
        assert link.startswith("https://"), link  # no javascript:, data:, or broken-out URL
    assert not any(a.startswith("on") for n in tree.css("*") for a in n.attributes)
    assert '<script>alert("x")</script>' in tree.css_first("a.title").text()  # shown as text
    assert "x.png" not in html  # a URL with quotes in it is not a URL we link
    check_golden("hostile", raw)


def test_nothing_today_mail(sqlite_url: str) -> None:
    raw = produce(sqlite_url, send_empty=True, profiles={"rare": '"no paper says this"'})
    message = parsed(raw)
    text, html = bodies(message)
    assert message["Subject"] == "Paperboy · nothing new matched · Thursday 2 July 2026"
    assert "Nothing new matched · Thursday 2 July 2026" in text
    assert "Change that or" not in text  # "that" referred to nothing
    assert 'class="paper"' not in html
    check_golden("nothing", raw)
