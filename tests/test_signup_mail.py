"""What the sign-up mails say: our words only, never the text a stranger typed into the form, and
a confirmation link confirms exactly the sign-up its mail described (issue 13, item 8)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from email.message import EmailMessage

import httpx
import pytest

from paperboy.web.signup import quoted
from tests.pages import Site, csrf_of, site

# A valid query (one quoted phrase) that is also a message from a stranger.
ATTACKER = '"URGENT your account is locked call 555 0100 or visit evil.example now"'


@pytest.fixture
def web(database_url: str) -> Iterator[tuple[Site, httpx.Client]]:
    with site(database_url) as s, httpx.Client(base_url=s.base, event_hooks=s.hooks) as client:
        yield s, client


def sign_up(client: httpx.Client, email: str, query: str, time: str = "07:30") -> httpx.Response:
    csrf = csrf_of(client.get("/signup").text)
    form = {"csrf": csrf, "email": email, "query": query, "time": time, "zone": "Europe/Paris"}
    return client.post("/signup", data=form)


def confirmations(s: Site, address: str) -> list[EmailMessage]:
    return [m for m in s.mails_to(address) if "Confirm" in m["Subject"]]


def test_the_confirmation_mail_does_not_carry_the_typed_query(
    web: tuple[Site, httpx.Client],
) -> None:
    s, client = web
    assert sign_up(client, "victim@example.org", ATTACKER).status_code == 200
    (mail,) = confirmations(s, "victim@example.org")
    body = mail.get_content()
    assert "URGENT" not in body
    assert "evil.example" not in body
    assert "555 0100" not in body
    # What it does say: who, when, and that the profile is not ours to repeat.
    assert "victim@example.org" in body
    assert "every day at 07:30 (Europe/Paris)" in body
    assert "typed on the sign-up form" in body
    assert "URGENT" not in mail["Subject"]


def test_the_already_subscribed_mail_does_not_carry_the_typed_query(
    web: tuple[Site, httpx.Client],
) -> None:
    s, client = web
    s.world.subscribe("reader@example.org")
    assert sign_up(client, "reader@example.org", ATTACKER).status_code == 200
    (mail,) = s.mails_to("reader@example.org")
    body = mail.get_content()
    assert "already gets Paperboy digests" in body
    assert "URGENT" not in body
    assert "evil.example" not in body


def test_a_second_sign_up_cannot_hijack_the_first_confirmation_link(
    web: tuple[Site, httpx.Client],
) -> None:
    """The victim signs up with query A; a stranger signs the same address up with query B
    before the victim clicks. The victim's (first) link must not confirm B."""
    s, client = web
    sign_up(client, "victim@example.org", "diffusion")
    (first,) = confirmations(s, "victim@example.org")
    first_link = s.link_in(first, "/c/")

    with httpx.Client(base_url=s.base, event_hooks=s.hooks) as stranger:
        assert sign_up(stranger, "victim@example.org", ATTACKER, time="03:00").status_code == 200

    shown = client.get(first_link)
    assert "no longer valid" in shown.text
    csrf = csrf_of(client.get("/signup").text)
    pressed = client.post(first_link, data={"csrf": csrf})
    assert pressed.status_code >= 400
    assert "no longer valid" in pressed.text
    assert "You are subscribed" not in pressed.text
    victim = s.world.people.require("victim@example.org")
    assert victim.status == "pending"  # B was not confirmed by A's link
    assert [p.query for p in s.world.people.profiles(victim.id)] == [ATTACKER]


def test_the_confirmation_page_shows_the_typed_query_marked_and_capped(
    web: tuple[Site, httpx.Client],
) -> None:
    """Before pressing the button, the reader sees what they confirm, quoted as someone's
    typing (escaped, control characters out, at most 200 characters), never as our words."""
    s, client = web
    long_query = '"' + "spam " * 80 + '" <b>bold</b>'
    sign_up(client, "reader@example.org", long_query)
    (mail,) = confirmations(s, "reader@example.org")
    page = client.get(s.link_in(mail, "/c/"))
    assert page.status_code == 200
    assert "as typed on the sign-up form" in page.text
    assert "<b>bold</b>" not in page.text  # escaped (and beyond the cap anyway)
    shown = page.text.split('<blockquote class="typed">', 1)[1].split("</blockquote>", 1)[0]
    text = html.unescape(shown).strip()
    assert text.startswith('"spam spam')
    assert len(text) <= 201  # 200 characters and the ellipsis
    assert text.endswith("\u2026")


def test_quoted_typing_loses_controls_and_invisible_characters() -> None:
    typed = "diffusion\x1b[31m\u202eevil\u200b\r\nBcc: x@example.org\x00" + "a" * 300
    shown = quoted(typed)
    assert all(c.isprintable() for c in shown)
    for hidden in ("\u202e", "\u200b", "\x1b", "\r", "\n", "\x00"):
        assert hidden not in shown
    assert shown.startswith("diffusion [31m evil Bcc: x@example.org a")
    assert len(shown) == 201
    assert shown.endswith("\u2026")
    assert quoted("  short   one ") == "short one"
