"""One subscriber's profile can never stop the others (issue 13): a profile stored before the
query limits (or written into the database by hand) is skipped and named by compose, the dry run,
`paperboy send`, `run-once` and `doctor`; everyone else is served. The web's query forms answer a
hostile query with an inline error, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from paperboy.service import fetch_plan, search_terms
from scraper.models import View
from store.engine import make_engine
from tests.pages import site
from tests.papers import saved_papers
from tests.replay_server import replay_server
from tests.test_cli import rows, run
from tests.world import NOW, World, world

DEEP = "-" * 976 + "diffusion"  # the query of the issue: RecursionError in every command
OFFLINE = "http://127.0.0.1:9"  # doctor's site check fails at once, not after a DNS timeout
GOOD = {"vision": 'diffusion OR "video generation"'}


def store_query(database_url: str, email: str, name: str, query: str) -> None:
    """Write a profile's query straight into the table, past every check (an old row)."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            changed = connection.execute(
                text(
                    "update profiles set query = :query where name = :name and subscriber_id = "
                    "(select id from subscribers where email = :email)"
                ),
                {"query": query, "name": name, "email": email},
            )
            assert changed.rowcount == 1
    finally:
        engine.dispose()


@contextmanager
def hostile_world(database_url: str) -> Iterator[World]:
    """good@ has one good profile; bad@ one bad; mixed@ a good one and a bad one."""
    with world(database_url) as w:
        w.subscribe("good@example.org", profiles=GOOD)
        w.subscribe("bad@example.org", profiles={"evil": "diffusion"})
        w.subscribe("mixed@example.org", profiles=GOOD | {"numbers": "video"})
        store_query(database_url, "bad@example.org", "evil", DEEP)
        store_query(database_url, "mixed@example.org", "numbers", "video upvotes>=²")
        yield w


def test_compose_serves_everyone_else_and_names_each_bad_profile(database_url: str) -> None:
    with hostile_world(database_url) as w:
        report = w.dispatcher().compose()
        assert report.due == 3
        assert report.composed == 1  # good@ only
        assert [d.recipient for d in w.ledger.deliveries()] == ["good@example.org"]
        said = "\n".join(report.errors)
        assert len(report.errors) == 2
        assert (
            "no digest for bad@example.org: profile 'evil': "
            "nested more than 32 levels at column 33" in said
        )
        assert (
            "no digest for mixed@example.org: profile 'numbers': "
            "expected a whole number after 'upvotes>=' (digits 0-9) at column 7" in said
        )
        assert "paperboy profile edit" in said  # what to do about it
        # Not recorded: once the profile is fixed, the next run builds their digests.
        store_query(database_url, "bad@example.org", "evil", "diffusion")
        store_query(database_url, "mixed@example.org", "numbers", "video upvotes>=2")
        again = w.dispatcher().compose()
        assert (again.composed, again.errors) == (2, [])


def test_the_dry_run_names_the_bad_profiles_too(database_url: str) -> None:
    with hostile_world(database_url) as w:
        report = w.dispatcher().compose(dry_run=True)
        assert [email for email, _, _ in report.previews] == ["good@example.org"]
        assert len(report.errors) == 2
        assert "profile 'evil'" in report.errors[0] + report.errors[1]
        assert w.ledger.deliveries() == []


def test_a_preview_of_a_bad_profile_says_which_and_why(database_url: str) -> None:
    from paperboy.errors import ProfileSyntaxError

    with hostile_world(database_url) as w:
        bad = w.people.require("bad@example.org")
        with pytest.raises(ProfileSyntaxError, match="profile 'evil': nested more than 32"):
            w.dispatcher().preview(bad)
        good = w.people.require("good@example.org")
        assert w.dispatcher().preview(good).kind == "papers"


def test_profile_term_searches_skip_bad_profiles(sqlite_url: str) -> None:
    """Terms of a bad profile are not searched for, and one term too long for the site's
    search box (250 characters) does not stop the fetch plan (it used to raise ValueError)."""
    long_phrase = '"' + " ".join(["word"] * 60) + '"'
    queries = [DEEP, "upvotes>=²", f"{long_phrase} OR bayesian", "diffusion"]
    assert search_terms(queries) == ["bayesian", "diffusion"]
    with world(sqlite_url, papers=()) as w:
        plan = fetch_plan(w.papers, NOW, queries)
    assert [s.period for s in plan if s.view is View.SEARCH] == ["bayesian", "diffusion"]


# -- the commands, as cron runs them -----------------------------------------------------------


def table_text(output: str) -> str:
    """A rich table's text with its borders gone and its wrapped cells joined up again."""
    return " ".join(output.replace("│", " ").split())


def add_subscriber(tmp_path: Path, email: str, profile: str) -> None:
    added = run(
        tmp_path, "subscriber", "add", email, "--hour", "0", "--zone", "UTC", "--profile", profile
    )
    assert added.returncode == 0, added.stderr


def seed_papers(tmp_path: Path) -> None:
    """The saved papers, fetched an hour ago (the CLI runs on the real clock)."""
    with world(f"sqlite:///{tmp_path / 'pb.db'}", papers=()) as w:
        w.ingest(saved_papers(), datetime.now(UTC) - timedelta(hours=1))


def break_profile(tmp_path: Path, email: str, query: str) -> None:
    store_query(f"sqlite:///{tmp_path / 'pb.db'}", email, "p", query)


def test_send_and_dry_run_serve_the_good_subscriber_and_exit_1(tmp_path: Path) -> None:
    seed_papers(tmp_path)
    add_subscriber(tmp_path, "eve@example.org", 'p=title:llama OR "language models"')
    add_subscriber(tmp_path, "mallory@example.org", "p=llama")
    break_profile(tmp_path, "mallory@example.org", DEEP)

    dry = run(tmp_path, "send", "--dry-run", PAPERBOY_MAIL_TRANSPORT="null")
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "Traceback" not in dry.stderr
    assert "RecursionError" not in dry.stderr
    assert "eve@example.org" in dry.stdout
    said = " ".join(dry.stderr.split())
    assert "mallory@example.org: profile 'p': nested more than 32 levels at column 33" in said

    sent = run(tmp_path, "send", PAPERBOY_MAIL_TRANSPORT="null")
    assert sent.returncode == 1, sent.stdout + sent.stderr
    assert "2 due, 1 composed" in " ".join(sent.stdout.split())
    said = " ".join(sent.stderr.split())
    assert "mallory@example.org: profile 'p': nested more than 32 levels at column 33" in said
    delivered = rows(tmp_path, "select recipient, state from deliveries order by id")
    assert ("eve@example.org", "sent") in delivered
    assert all(recipient != "mallory@example.org" for recipient, _ in delivered)

    doctor = run(tmp_path, "doctor", PAPERBOY_MAIL_TRANSPORT="null", PAPERBOY_HF_BASE_URL=OFFLINE)
    table = table_text(doctor.stdout)
    assert "profiles FAIL" in table
    assert "mallory@example.org: profile 'p': nested more than 32 levels" in table
    assert doctor.returncode == 1


def test_run_once_serves_the_good_subscriber_and_names_the_bad_profile(tmp_path: Path) -> None:
    add_subscriber(tmp_path, "eve@example.org", "p=diffusion OR agent*")
    add_subscriber(tmp_path, "mallory@example.org", "p=llama")
    break_profile(tmp_path, "mallory@example.org", "stars>=" + "9" * 900)
    with replay_server() as (base, _):
        env = {"PAPERBOY_HF_BASE_URL": base, "PAPERBOY_REQUEST_DELAY": "0"}
        result = run(tmp_path, "run-once", **env)
        doctor = run(tmp_path, "doctor", **env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "2 digests due, 1 composed; 1 sent" in " ".join(result.stdout.split())
    said = " ".join(result.stderr.split())
    assert "mallory@example.org: profile 'p': stars>= takes at most 1000000000" in said
    assert doctor.returncode == 1
    table = table_text(doctor.stdout)
    assert "profiles FAIL 1 of 2 profiles unusable" in table
    assert "mallory@example.org: profile 'p': stars>= takes at most 1000000000" in table
    for line in ("database OK", "fetch day OK"):
        assert line in table


def test_doctor_is_happy_with_good_profiles(tmp_path: Path) -> None:
    add_subscriber(tmp_path, "eve@example.org", "p=diffusion")
    doctor = run(tmp_path, "doctor", PAPERBOY_MAIL_TRANSPORT="null", PAPERBOY_HF_BASE_URL=OFFLINE)
    assert "profiles OK 1 profiles, every one usable" in table_text(doctor.stdout)


# -- the web's query forms -------------------------------------------------------------------

WEB_HOSTILE = [
    ("(" * 300 + "diffusion" + ")" * 300, "nested more than 32 levels at column 33"),
    (DEEP, "nested more than 32 levels at column 33"),
    ("diffusion upvotes>=²", "expected a whole number after &#39;upvotes&gt;=&#39;"),
    ("stars>=" + "9" * 990, "stars&gt;= takes at most 1000000000"),
]


@pytest.mark.parametrize(("query", "shown"), WEB_HOSTILE, ids=["parens", "minus", "²", "huge"])
def test_web_preview_answers_a_hostile_query_inline(
    sqlite_url: str, query: str, shown: str
) -> None:
    with site(sqlite_url) as s, httpx.Client(base_url=s.base) as client:
        answer = client.get("/preview", params={"q": query})
    assert answer.status_code == 200
    assert shown in answer.text


def test_web_sign_up_refuses_a_hostile_query_inline(sqlite_url: str) -> None:
    from tests.pages import csrf_of

    with site(sqlite_url) as s, httpx.Client(base_url=s.base) as client:
        csrf = csrf_of(client.get("/signup").text)
        form = {"csrf": csrf, "email": "x@example.org", "time": "07:30", "zone": "UTC"}
        answer = client.post("/signup", data=form | {"query": "upvotes>=①"})
        assert answer.status_code == 400  # the form again, the error next to the query
        assert "expected a whole number" in answer.text
        deep = client.post("/signup", data=form | {"query": DEEP})
        assert deep.status_code == 400
        assert "nested more than 32 levels at column 33" in deep.text
        assert s.world.people.get("x@example.org") is None  # nothing half-written


def test_nothing_is_left_half_done(database_url: str) -> None:
    """After the hostile run, re-running with the profile fixed sends bad@ once, good@ never
    again (the period is recorded once)."""
    with hostile_world(database_url) as w:
        w.dispatcher().compose()
        store_query(database_url, "bad@example.org", "evil", "diffusion")
        later = w.dispatcher(NOW + timedelta(minutes=5)).compose()
        assert later.composed == 1
        recipients = sorted(d.recipient for d in w.ledger.deliveries())
        assert recipients == ["bad@example.org", "good@example.org"]


# -- the other ways in: import and `paperboy profile add` ------------------------------------


def test_import_refuses_hostile_queries_with_the_parsers_words() -> None:
    import json

    from paperboy.errors import InputError
    from paperboy.transfer import parse_import

    records = [
        {"email": "a@example.org", "profiles": [{"name": "deep", "query": DEEP}]},
        {"email": "b@example.org", "profiles": [{"name": "n", "query": "upvotes>=²"}]},
    ]
    with pytest.raises(InputError) as info:
        parse_import(json.dumps(records), "json")
    said = info.value.message
    assert "2 bad rows, nothing imported" in said
    assert "profile 'deep': nested more than 32 levels at column 33" in said
    assert "profile 'n': expected a whole number after 'upvotes>=' (digits 0-9)" in said


def test_cli_profile_commands_refuse_hostile_queries(tmp_path: Path) -> None:
    add_subscriber(tmp_path, "eve@example.org", "p=diffusion")
    added = run(tmp_path, "profile", "add", "eve@example.org", "deep", "(" * 40 + "x" + ")" * 40)
    assert added.returncode == 2
    said = " ".join(added.stderr.split())
    assert "profile 'deep': nested more than 32 levels at column 33" in said
    assert "Traceback" not in added.stderr
    tried = run(tmp_path, "profile", "test", "upvotes>=①")
    assert tried.returncode == 2
    assert "expected a whole number after 'upvotes>=' (digits 0-9)" in tried.stderr
    assert rows(tmp_path, "select name from profiles") == [("p",)]


def test_the_grammar_help_states_the_limits() -> None:
    from paperboy.cli.commands_profile import GRAMMAR

    said = " ".join(GRAMMAR.split())
    assert "Limits: 1000 characters, 100 terms, 32 levels of nesting" in said
    assert "digits 0-9, at most 1000000000" in said
