"""paperboy.links: every link is built and read in one place (issue 15), feedback included
(issue 16); the routes answer the URLs it builds, and the wire form of mailed links is kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from itertools import permutations
from urllib.parse import unquote, urlsplit

import pytest
from fastapi.testclient import TestClient

from paperboy.clock import fixed_clock
from paperboy.links import (
    FRESH_LINK,
    PREFIX,
    ArchiveLink,
    ConfirmLink,
    FeedbackLink,
    FeedLink,
    LinkBuilder,
    ManageLink,
    Payload,
    UnsubscribeLink,
)
from paperboy.subscribers import Status
from paperboy.tokens import MAX_AGE, Purpose, TokenError, TokenExpired, TokenRevoked, Tokens
from paperboy.web.app import create_app
from paperboy.web.site import Site, WebContext
from tests.digests import latest_digest
from tests.world import NOW, SECRET, World, world

PUBLIC = "https://paperboy.example.org"
KEY = "k3y-of-the-reader_0123456789abcdef"
KINDS: tuple[type[Payload], ...] = (
    ArchiveLink,
    ManageLink,
    UnsubscribeLink,
    ConfirmLink,
    FeedLink,
    FeedbackLink,
)


def builder(secret: str = SECRET, **delta: float) -> LinkBuilder:
    return LinkBuilder(Tokens(secret, fixed_clock(NOW + timedelta(**delta))), PUBLIC + "/")


def built(links: LinkBuilder, kind: type[Payload]) -> str:
    """A URL of ``kind`` for KEY, as a mail would carry it."""
    make = {
        ArchiveLink: lambda: links.archive(KEY, "2026-07-02"),
        ManageLink: lambda: links.manage(KEY),
        UnsubscribeLink: lambda: links.unsubscribe(KEY),
        ConfirmLink: lambda: links.confirm(KEY),
        FeedLink: lambda: links.feed(KEY, 42),
        FeedbackLink: lambda: links.feedback(KEY, 42, "hep-th/9901001"),
    }
    return make[kind]()


def token_of(url: str, kind: type[Payload]) -> str:
    prefix = f"{PUBLIC}{PREFIX[kind.PURPOSE]}/"
    assert url.startswith(prefix), url
    token = url.removeprefix(prefix)
    assert token
    assert "/" not in token
    return token


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_every_kind_round_trips(kind: type[Payload]) -> None:
    links = builder()
    read = links.read(kind, token_of(built(links, kind), kind))
    assert type(read) is kind
    assert read.ref.link_key == KEY
    assert read.ref.signed_at == NOW
    assert read.ref.legacy_id is None
    if isinstance(read, ArchiveLink):
        assert read.period == "2026-07-02"
    if isinstance(read, FeedLink):
        assert read.profile_id == 42
    if isinstance(read, FeedbackLink):
        assert (read.profile_id, read.arxiv_id) == (42, "hep-th/9901001")


@pytest.mark.parametrize(
    ("made", "read_as"), list(permutations(KINDS, 2)), ids=lambda k: k.__name__
)
def test_a_token_of_one_purpose_is_refused_for_another(
    made: type[Payload], read_as: type[Payload]
) -> None:
    links = builder()
    token = token_of(built(links, made), made)
    with pytest.raises(TokenError) as refused:
        links.read(read_as, token)
    assert not isinstance(refused.value, TokenRevoked | TokenExpired)  # simply not valid here


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_a_tampered_or_foreign_token_is_refused(kind: type[Payload]) -> None:
    links = builder()
    token = token_of(built(links, kind), kind)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    foreign = token_of(built(builder("another-secret-0123456789abcdef"), kind), kind)
    for bad in (flipped, foreign, "", "x", token + "."):
        with pytest.raises(TokenError):
            links.read(kind, bad)


def test_expiry_follows_each_purpose() -> None:
    made = builder()
    manage = token_of(made.manage(KEY), ManageLink)
    confirm = token_of(made.confirm(KEY), ConfirmLink)
    days = {p: (age or 0) // 86400 for p, age in MAX_AGE.items()}
    assert (days[Purpose.MANAGE], days[Purpose.CONFIRM]) == (30, 3)
    assert builder(days=29).read(ManageLink, manage).ref.link_key == KEY
    with pytest.raises(TokenExpired):
        builder(days=31).read(ManageLink, manage)
    with pytest.raises(TokenExpired):
        builder(days=4).read(ConfirmLink, confirm)
    years = builder(days=3650)  # a digest read years later: these never expire
    for kind in (ArchiveLink, UnsubscribeLink, FeedLink, FeedbackLink):
        assert years.read(kind, token_of(built(made, kind), kind)).ref.link_key == KEY


def test_the_older_unsubscribe_by_row_id_is_read_and_nothing_else_is() -> None:
    tokens = Tokens(SECRET, fixed_clock(NOW))
    links = LinkBuilder(tokens, PUBLIC)
    legacy = links.read(UnsubscribeLink, tokens.make(Purpose.UNSUBSCRIBE, 7))
    assert (legacy.ref.legacy_id, legacy.ref.link_key) == (7, "")
    for kind in (ManageLink, ArchiveLink, FeedLink, FeedbackLink, ConfirmLink):
        with pytest.raises(TokenRevoked):
            links.read(kind, tokens.make(kind.PURPOSE, 7))


def test_a_mailed_token_keeps_its_meaning() -> None:
    """Links already in inboxes were made by Tokens.for_subscriber: the same wire form."""
    tokens = Tokens(SECRET, fixed_clock(NOW))
    links = LinkBuilder(tokens, PUBLIC)
    old = tokens.for_subscriber(Purpose.ARCHIVE, KEY, "2026-W27")
    assert links.read(ArchiveLink, old).period == "2026-W27"
    assert links.archive(KEY, "2026-W27") == f"{PUBLIC}/d/{old}"  # same clock, same token


def test_a_feedback_token_must_name_a_profile_and_a_paper() -> None:
    tokens = Tokens(SECRET, fixed_clock(NOW))
    links = LinkBuilder(tokens, PUBLIC)
    for detail in ("", "42", "42:", "x:2501.12345", "-1:2501.12345", "42:" + "9" * 41):
        with pytest.raises(TokenError):
            links.read(FeedbackLink, tokens.for_subscriber(Purpose.FEEDBACK, KEY, detail))
    with pytest.raises(ValueError, match="not an arXiv id"):
        links.feedback(KEY, 42, "")
    with pytest.raises(ValueError, match="link key"):
        links.feedback("", 42, "2501.12345")  # never a link that names nobody


def test_the_digest_and_list_unsubscribe_links() -> None:
    links = builder()
    digest = links.digest_links(KEY, "2026-07-02")
    assert links.read(ArchiveLink, token_of(digest.archive, ArchiveLink)).period == "2026-07-02"
    assert links.read(ManageLink, token_of(digest.manage, ManageLink)).ref.link_key == KEY
    assert links.read(UnsubscribeLink, token_of(digest.unsubscribe, UnsubscribeLink))
    pair = links.list_unsubscribe(KEY, "digest@paperboy.example.org")
    token = token_of(pair.url, UnsubscribeLink)
    assert pair.mailto == (
        "mailto:digest@paperboy.example.org?subject=unsubscribe%20" + token.replace("=", "%3D")
    )
    assert unquote(pair.mailto.partition("subject=")[2]) == f"unsubscribe {token}"
    assert links.fresh_link() == PUBLIC + FRESH_LINK


def test_the_form_field_signs_the_nonce() -> None:
    links = builder()
    field = links.form_field("nonce-0123456789abcdef")
    assert links.read_form_field(field) == "nonce-0123456789abcdef"
    with pytest.raises(TokenExpired):
        builder(days=2).read_form_field(field)
    with pytest.raises(TokenError):  # a link token is no form field
        links.read_form_field(token_of(links.manage(KEY), ManageLink))


# -- against the real app and database ------------------------------------------------------


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[World, Site, TestClient]]:
    with world(database_url) as w:
        context = WebContext(
            w.engine,
            Tokens(SECRET, fixed_clock(NOW)),
            fixed_clock(NOW),
            public_url=PUBLIC,
            allowed_hosts=frozenset({"testserver"}),
        )
        with TestClient(create_app(context), follow_redirects=False) as client:
            yield w, Site(context), client


def test_the_routes_answer_every_link_built(served: tuple[World, Site, TestClient]) -> None:
    w, site, client = served
    sid = w.subscribe("reader@example.org")
    w.dispatcher().compose()
    digest = latest_digest(w.ledger, sid)
    assert digest is not None
    key = w.people.require("reader@example.org").link_key
    (profile,) = w.people.profiles(sid)
    urls = [
        site.links.archive(key, digest.period),
        site.links.manage(key),
        site.links.unsubscribe(key),
        site.links.feed(key, profile.id),
    ]
    for url in urls:
        assert client.get(urlsplit(url).path).status_code == 200, url
    for purpose, prefix in PREFIX.items():  # a route reads tokens under every prefix
        if purpose != Purpose.FEEDBACK:  # its page comes with issue 16
            answer = client.get(f"{prefix}/not-a-token")
            assert answer.status_code == 400, purpose
            assert "This link does not work" in answer.text
    assert client.get(FRESH_LINK).status_code == 200


def test_a_feedback_link_names_its_reader_until_the_key_rotates(
    served: tuple[World, Site, TestClient],
) -> None:
    w, site, _ = served
    sid = w.subscribe("reader@example.org")
    w.subscribe("other@example.org")
    (profile,) = w.people.profiles(sid)
    key = w.people.require("reader@example.org").link_key
    url = site.links.feedback(key, profile.id, "2501.12345")
    token = token_of(url, FeedbackLink)
    link, reader = site.open(FeedbackLink, token)
    assert (reader.id, link.profile_id, link.arxiv_id) == (sid, profile.id, "2501.12345")
    w.people.set_status("reader@example.org", Status.UNSUBSCRIBED, NOW)  # rotates the key
    with pytest.raises(TokenRevoked):
        site.open(FeedbackLink, token)
