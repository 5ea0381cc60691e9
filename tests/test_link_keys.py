"""Links act on their own subscriber only (issue 13, item 1), on SQLite and PostgreSQL.

The sequence that used to hand Alice's links to a stranger: Alice keeps her links and
unsubscribes; she signs up again and never confirms; three days later a dispatch erases that
sign-up, and SQLite gave its id to the next person who signed up. Every link names a random key of
its subscriber now, rotated when old links must die, and ids are never reused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from paperboy import subscribers as rules
from paperboy.clock import fixed_clock
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import WebContext, create_app
from store.engine import make_engine, upgrade
from store.types import NewSubscriber
from tests.digests import latest_digest
from tests.web_server import serving
from tests.world import NOW, SECRET, World, world

Links = dict[str, str]


@pytest.fixture
def site(database_url: str) -> Iterator[tuple[httpx.Client, World, Tokens]]:
    with world(database_url) as w:
        tokens = Tokens(SECRET, fixed_clock(NOW))
        app = create_app(WebContext(w.engine, tokens, fixed_clock(NOW)))
        with serving(app) as base, httpx.Client(base_url=base) as client:
            yield client, w, tokens


def links_of(w: World, tokens: Tokens, sid: int) -> Links:
    """Every link a subscriber has been mailed: settings, unsubscribe, feed, archive."""
    w.dispatcher().compose()
    digest = latest_digest(w.ledger, sid)
    assert digest is not None
    (profile,) = w.people.profiles(sid)
    return {
        "manage": f"/m/{w.link(tokens, Purpose.MANAGE, sid)}",
        "unsubscribe": f"/u/{w.link(tokens, Purpose.UNSUBSCRIBE, sid)}",
        "feed": f"/f/{w.link(tokens, Purpose.FEED, sid, str(profile.id))}",
        "archive": f"/d/{w.link(tokens, Purpose.ARCHIVE, sid, digest.period)}",
    }


def sign_up_pending(w: World, address: str, query: str = "agents") -> int:
    settings = rules.settings(zone="UTC", hour=8)
    new = NewSubscriber(address, "pending", settings, (rules.profile("papers", query),))
    return w.people.add(new, NOW).id


def assert_dead(client: httpx.Client, links: Links) -> None:
    for name, link in links.items():
        for answer in (client.get(link), *([client.post(link)] if name == "unsubscribe" else [])):
            assert answer.status_code == 410, name
            assert "This link is no longer valid" in answer.text, name
            assert "bob@example.org" not in answer.text, name


def test_old_links_never_act_on_whoever_signs_up_next(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    client, w, tokens = site
    alice = w.subscribe("alice@example.org")
    kept = links_of(w, tokens, alice)
    assert all(client.get(link).status_code == 200 for link in kept.values())

    assert client.post(kept["unsubscribe"]).status_code == 200  # Alice unsubscribes ...
    assert w.people.require("alice@example.org").status == "unsubscribed"
    restarted = w.people.restart_signup(  # ... signs up again and never confirms ...
        alice, rules.settings(zone="UTC", hour=8), (rules.profile("papers", "bayes"),), NOW
    )
    assert restarted.status == "pending"
    later = NOW + timedelta(days=3, hours=1)
    assert w.dispatcher(now=later).compose().expired_signups == 1  # ... and the row is erased
    bob = sign_up_pending(w, "bob@example.org")
    w.people.set_status("bob@example.org", "active", NOW)

    assert bob != alice  # ids are never handed out again (AUTOINCREMENT; a sequence on PG)
    assert_dead(client, kept)
    assert w.people.require("bob@example.org").status == "active"  # nothing of Bob's changed
    assert [p.query for p in w.people.profiles(bob)] == ["agents"]


def test_even_a_reused_id_does_not_let_an_old_link_in(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    """Belt and braces: were an id ever reused (a restored backup), the key still differs."""
    client, w, tokens = site
    alice = w.subscribe("alice@example.org")
    kept = links_of(w, tokens, alice)
    w.people.forget("alice@example.org")
    with w.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subscribers (id, email, link_key, status, time_zone, send_hour,"
                " send_minute, frequency, weekday, max_papers, send_empty, created_at, updated_at)"
                " VALUES (:id, 'bob@example.org', 'bobs-own-key', 'active', 'UTC', 8, 0, 'daily',"
                " 0, 20, false, :now, :now)"
            ),
            {"id": alice, "now": NOW},
        )
    assert_dead(client, kept)
    assert w.people.require("bob@example.org").status == "active"


def test_a_new_sign_up_kills_the_earlier_confirmation_link(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    """The victim's first link must not confirm what someone else typed in a second sign-up."""
    client, w, tokens = site
    sid = sign_up_pending(w, "victim@example.org", "diffusion")
    first = f"/c/{w.link(tokens, Purpose.CONFIRM, sid)}"
    assert client.get(first).status_code == 200
    w.people.restart_signup(
        sid, rules.settings(zone="UTC", hour=3), (rules.profile("papers", "attacker"),), NOW
    )
    answer = client.post(first, data={"csrf": "x"})  # CSRF aside: the link itself is dead
    assert w.people.require("victim@example.org").status == "pending"
    assert client.get(first).status_code == 410
    assert answer.status_code in (403, 410)


def test_pausing_keeps_links_and_unsubscribing_rotates_them(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    client, w, tokens = site
    sid = w.subscribe("reader@example.org")
    key = w.people.require("reader@example.org").link_key
    assert len(key) >= 24
    w.people.set_status("reader@example.org", "paused", NOW)
    w.people.set_status("reader@example.org", "active", NOW)
    assert w.people.require("reader@example.org").link_key == key
    manage = f"/m/{w.link(tokens, Purpose.MANAGE, sid)}"
    assert client.get(manage).status_code == 200
    w.people.set_status("reader@example.org", "unsubscribed", NOW)
    assert w.people.require("reader@example.org").link_key != key
    assert client.get(manage).status_code == 410


def test_an_unsubscribe_link_mailed_before_link_keys_still_works_for_its_own_row(
    site: tuple[httpx.Client, World, Tokens],
) -> None:
    """List-Unsubscribe links already in inboxes named the row id; they must keep working for
    the row they were made for, and never for a row created after them."""
    client, w, _ = site
    sid = w.subscribe("reader@example.org")
    created = w.people.require("reader@example.org").created_at
    before = Tokens(SECRET, fixed_clock(created - timedelta(days=1))).make(Purpose.UNSUBSCRIBE, sid)
    after = Tokens(SECRET, fixed_clock(created + timedelta(days=1))).make(Purpose.UNSUBSCRIBE, sid)
    # Made a day before the row existed: it was some earlier subscriber's.
    assert client.post(f"/u/{before}").status_code == 410
    assert w.people.require("reader@example.org").status == "active"
    assert client.post(f"/u/{after}").status_code == 200
    assert w.people.require("reader@example.org").status == "unsubscribed"
    legacy_manage = Tokens(SECRET, fixed_clock(NOW)).make(Purpose.MANAGE, sid)
    assert client.get(f"/m/{legacy_manage}").status_code == 410  # only unsubscribing is kept


def test_the_migration_keys_existing_rows_and_keeps_their_profiles(database_url: str) -> None:
    """0007 rebuilds the SQLite table: nothing that points at a subscriber may be lost."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0006")
        with engine.begin() as connection:
            for n in (1, 2, 3):
                connection.execute(
                    text(
                        "INSERT INTO subscribers (email, status, time_zone, send_hour, send_minute,"
                        " frequency, weekday, max_papers, send_empty, created_at, updated_at)"
                        " VALUES (:email, 'active', 'UTC', 8, 0, 'daily', 0, 20, false, :now, :now)"
                    ),
                    {"email": f"r{n}@example.org", "now": NOW},
                )
            connection.execute(
                text(
                    "INSERT INTO profiles (subscriber_id, name, query, created_at, updated_at)"
                    " SELECT id, 'p', 'diffusion', :now, :now FROM subscribers"
                ),
                {"now": NOW},
            )
            connection.execute(text("DELETE FROM subscribers WHERE email = 'r3@example.org'"))
        upgrade(engine)
        with engine.begin() as connection:
            keys = connection.execute(text("SELECT link_key FROM subscribers")).scalars().all()
            profiles = connection.execute(text("SELECT count(*) FROM profiles")).scalar_one()
            top = connection.execute(text("SELECT max(id) FROM subscribers")).scalar_one()
        assert len(keys) == 2
        assert len(set(keys)) == 2
        assert all(len(k) >= 24 for k in keys)
        assert profiles == 2  # the rebuild did not cascade into the profiles
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM subscribers WHERE id = :top"), {"top": top})
            connection.execute(
                text(
                    "INSERT INTO subscribers (email, link_key, status, time_zone, send_hour,"
                    " send_minute, frequency, weekday, max_papers, send_empty, created_at,"
                    " updated_at) VALUES ('new@example.org', 'k', 'active', 'UTC', 8, 0,"
                    " 'daily', 0, 20, false, :now, :now)"
                ),
                {"now": NOW},
            )
            fresh = connection.execute(
                text("SELECT id FROM subscribers WHERE email = 'new@example.org'")
            ).scalar_one()
        assert fresh > top  # the deleted id was not handed out again
    finally:
        engine.dispose()
