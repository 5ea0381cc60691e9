"""Issue 17, thumbnails by choice: subscribers.thumbnails (on by default, kept for everyone stored
before it), honoured by the composer, set from the CLI, the manage page and import files."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import text

from paperboy import subscribers as rules
from paperboy.errors import InputError
from paperboy.tokens import Purpose
from paperboy.transfer import export, parse_import
from store.engine import make_engine, upgrade
from store.subscribers import SubscriberStore
from store.types import NewSubscriber, Profile, Subscriber
from tests.digests import latest_digest
from tests.pages import Site, csrf_of, site
from tests.test_cli import rows, run
from tests.world import NOW, World, mail_parts, world

VISION = 'diffusion OR "video generation"'


def subscribe(w: World, email: str, *, thumbnails: bool) -> int:
    settings = dataclasses.replace(
        rules.settings(zone="Europe/London", hour=8), thumbnails=thumbnails
    )
    new = NewSubscriber(email, "active", settings, (rules.profile("vision", VISION),))
    return w.people.add(new, NOW).id


def test_thumbnails_off_mails_no_image_and_on_mails_small_ones(database_url: str) -> None:
    with world(database_url) as w:
        off = subscribe(w, "plain@example.org", thumbnails=False)
        on = subscribe(w, "pictures@example.org", thumbnails=True)
        assert w.people.by_id(off).thumbnails is False  # type: ignore[union-attr]
        w.dispatcher().compose()
        plain, pictures = latest_digest(w.ledger, off), latest_digest(w.ledger, on)
        assert plain is not None
        assert pictures is not None
        assert plain.paper_ids == pictures.paper_ids  # the same papers, only the pictures differ
        _, html = mail_parts(plain)
        assert "<img" not in html
        _, html = mail_parts(pictures)
        thumbs = LexborHTMLParser(html).css("img.thumb")
        assert thumbs, "the saved papers carry thumbnails"
        assert all(img.attributes.get("width") == "88" for img in thumbs)


def test_subscribers_stored_before_the_column_keep_their_thumbnails(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0010")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO subscribers (email, link_key, status, time_zone, send_hour,"
                    " send_minute, frequency, weekday, max_papers, send_empty, created_at,"
                    " updated_at) VALUES ('r@example.org', 'k', 'active', 'UTC', 8, 0,"
                    " 'daily', 0, 20, false, :now, :now)"
                ),
                {"now": NOW},
            )
        upgrade(engine)
        people = SubscriberStore(engine)
        assert people.require("r@example.org").thumbnails is True
        off = dataclasses.replace(rules.settings(), thumbnails=False)
        assert people.update_settings("r@example.org", off, NOW).thumbnails is False
    finally:
        engine.dispose()


def test_cli_add_set_show_round_trip(tmp_path: Path) -> None:
    added = run(
        tmp_path, "subscriber", "add", "a@example.org", "--no-thumbnails", "--profile", "v=video"
    )
    assert added.returncode == 0, added.stderr
    assert rows(tmp_path, "select thumbnails from subscribers") == [(0,)]
    shown = run(tmp_path, "subscriber", "show", "a@example.org").stdout
    assert "none" in next(line for line in shown.splitlines() if "thumbnails" in line)
    # set without the option keeps the choice; with it, changes it
    assert run(tmp_path, "subscriber", "set", "a@example.org", "--hour", "9").returncode == 0
    assert rows(tmp_path, "select thumbnails, send_hour from subscribers") == [(0, 9)]
    changed = run(tmp_path, "subscriber", "set", "a@example.org", "--thumbnails")
    assert changed.returncode == 0, changed.stderr
    assert rows(tmp_path, "select thumbnails from subscribers") == [(1,)]
    shown = run(tmp_path, "subscriber", "show", "a@example.org").stdout
    assert "small, beside each title" in shown
    exported = json.loads(run(tmp_path, "subscriber", "export", "--format", "json").stdout)
    assert exported[0]["thumbnails"] is True


@pytest.fixture
def web(database_url: str) -> Iterator[tuple[Site, httpx.Client]]:
    with site(database_url) as s, httpx.Client(base_url=s.base, event_hooks=s.hooks) as client:
        yield s, client


def test_the_manage_page_saves_the_checkbox(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    sid = s.world.subscribe("reader@example.org")
    url = f"/m/{s.world.link(s.tokens, Purpose.MANAGE, sid)}"
    page = client.get(url).text
    box = LexborHTMLParser(page).css_first('input[name="thumbnails"]')
    assert box is not None
    assert "checked" in box.attributes
    assert "Show small thumbnails" in page
    settings = {
        "csrf": csrf_of(page),
        "time": "08:00",
        "zone": "Europe/London",
        "frequency": "daily",
        "weekday": "mon",
        "max_papers": "20",
    }
    assert client.post(f"{url}/settings", data=settings).status_code == 303  # box unticked
    assert s.world.people.require("reader@example.org").thumbnails is False
    box = LexborHTMLParser(client.get(url).text).css_first('input[name="thumbnails"]')
    assert box is not None
    assert "checked" not in box.attributes
    ticked = settings | {"thumbnails": "1"}
    assert client.post(f"{url}/settings", data=ticked).status_code == 303
    assert s.world.people.require("reader@example.org").thumbnails is True
    bad = client.post(f"{url}/settings", data=settings | {"max_papers": "500"})
    assert bad.status_code == 400  # the typed form comes back as typed: the box unticked
    box = LexborHTMLParser(bad.text).css_first('input[name="thumbnails"]')
    assert box is not None
    assert "checked" not in box.attributes
    assert s.world.people.require("reader@example.org").thumbnails is True


def test_old_export_files_import_with_thumbnails_on() -> None:
    old_csv = (
        "email,status,time_zone,send_hour,frequency,weekday,max_papers,send_empty,"
        "profile_name,profile_query\n"
        "carol@example.org,active,UTC,9,daily,mon,10,true,rl,reinforcement\n"
    )
    old_json = '[{"email": "dan@example.org", "send_empty": false}]'
    (carol,) = parse_import(old_csv, "csv")
    (dan,) = parse_import(old_json, "json")
    assert carol.settings.thumbnails is True
    assert dan.settings.thumbnails is True
    assert carol.settings.send_empty is True
    assert dan.settings.send_empty is False
    new = parse_import(
        "email,thumbnails\nx@example.org,false\ny@example.org,\nz@example.org,yes\n", "csv"
    )
    assert [n.settings.thumbnails for n in new] == [False, True, True]
    (off,) = parse_import('[{"email": "e@example.org", "thumbnails": false}]', "json")
    assert off.settings.thumbnails is False
    with pytest.raises(InputError, match="thumbnails 'maybe' is not true or false"):
        parse_import("email,thumbnails\nx@example.org,maybe\n", "csv")


def test_export_carries_the_choice_and_imports_back(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        people = SubscriberStore(engine)
        settings = dataclasses.replace(rules.settings(), thumbnails=False)
        people.add(NewSubscriber("off@example.org", "active", settings), NOW)
        people.add(NewSubscriber("on@example.org", "active", rules.settings()), NOW)
        pairs: list[tuple[Subscriber, list[Profile]]] = [(s, []) for s in people.list_subscribers()]
        for fmt in ("csv", "json"):
            again = parse_import(export(pairs, fmt), fmt)
            assert [(n.email, n.settings.thumbnails) for n in again] == [
                ("off@example.org", False),
                ("on@example.org", True),
            ]
    finally:
        engine.dispose()


def test_0011_keeps_sqlite_ids_never_reused_both_ways(tmp_path: Path) -> None:
    """0011 adds its column in place: a batch rebuild would drop the table's AUTOINCREMENT
    (0007), and SQLite would hand a deleted subscriber's id to the next one."""
    from alembic import command

    from store.engine import _alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'ids.db'}")
    upgrade(engine)
    config = _alembic_config(engine)
    for step in (lambda: None, lambda: command.downgrade(config, "0010")):
        step()
        with sqlite3.connect(tmp_path / "ids.db") as db:
            (sql,) = db.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'subscribers'"
            ).fetchone()
        assert "AUTOINCREMENT" in sql
    engine.dispose()
