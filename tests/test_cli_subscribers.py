"""`paperboy subscriber` and `paperboy profile` as an operator uses them; bad input writes none."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from paperboy.profiles.parser import parse
from paperboy.profiles.reference import matches
from scraper.parse_html import parse_page
from store.subscribers import MAX_PROFILES
from tests.conftest import capture
from tests.papers import saved_papers
from tests.test_cli import rows, run


def test_add_show_set_pause_resume_remove(tmp_path: Path) -> None:
    added = run(
        tmp_path,
        "subscriber",
        "add",
        "Alice@Example.org",
        "--zone",
        "Europe/London",
        "--hour",
        "7",
        "--profile",
        'vision=diffusion OR "video generation"',
    )
    assert added.returncode == 0, added.stderr
    assert "added alice@example.org (active), 1 profile(s)." in added.stdout
    changed = run(
        tmp_path,
        "subscriber",
        "set",
        "alice@example.org",
        "--frequency",
        "weekly",
        "--weekday",
        "fri",
        "--hour",
        "07:30",
    )
    assert "weekly on fri at 07:30 Europe/London" in changed.stdout
    shown = run(tmp_path, "subscriber", "show", "ALICE@example.org")
    assert 'diffusion OR "video generation"' in shown.stdout
    assert run(tmp_path, "subscriber", "pause", "alice@example.org").returncode == 0
    assert rows(tmp_path, "select status from subscribers") == [("paused",)]
    assert run(tmp_path, "subscriber", "resume", "alice@example.org").returncode == 0
    assert run(tmp_path, "subscriber", "remove", "alice@example.org").returncode == 0
    assert rows(tmp_path, "select status from subscribers") == [("unsubscribed",)]
    refused = run(tmp_path, "subscriber", "resume", "alice@example.org")
    assert refused.returncode == 2
    assert "unsubscribed; they asked not to be mailed" in refused.stderr
    no_stdin = run(tmp_path, "subscriber", "remove", "alice@example.org", "--forget")
    assert no_stdin.returncode == 2
    assert "refusing to erase alice@example.org without confirmation" in no_stdin.stderr
    erased = run(tmp_path, "subscriber", "remove", "alice@example.org", "--forget", "--yes")
    assert erased.returncode == 0, erased.stderr
    assert rows(tmp_path, "select count(*) from subscribers") == [(0,)]
    assert rows(tmp_path, "select count(*) from profiles") == [(0,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("subscriber", "add", "not-an-address"), "'not-an-address' is not a valid email address"),
        (
            ("subscriber", "add", "a@example.org", "--zone", "Mars/Base"),
            "unknown time zone 'Mars/Base'",
        ),
        (
            ("subscriber", "add", "a@example.org", "--hour", "24"),
            "send hour 24 is not between 0 and 23",
        ),
        (
            ("subscriber", "add", "a@example.org", "--frequency", "hourly"),
            "'hourly' is not a frequency",
        ),
        (
            ("subscriber", "add", "a@example.org", "--profile", "vision"),
            "--profile 'vision' has no '='",
        ),
        (
            ("subscriber", "add", "a@example.org", "--profile", "vision=diffusion OR )"),
            "profile 'vision': unexpected ')' at column 14",
        ),
    ],
)
def test_bad_input_is_one_sentence_and_writes_nothing(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    if (tmp_path / "pb.db").exists():
        assert rows(tmp_path, "select count(*) from subscribers") == [(0,)]


def test_profiles_add_edit_list_remove(tmp_path: Path) -> None:
    assert run(tmp_path, "subscriber", "add", "bob@example.org").returncode == 0
    bad = run(tmp_path, "profile", "add", "bob@example.org", "llm", 'title:llm OR "language model')
    assert bad.returncode == 2
    assert "profile 'llm': unterminated phrase" in bad.stderr
    assert rows(tmp_path, "select count(*) from profiles") == [(0,)]
    good = run(
        tmp_path, "profile", "add", "bob@example.org", "llm", 'title:llm OR "language models"'
    )
    assert good.returncode == 0, good.stderr
    twice = run(tmp_path, "profile", "add", "bob@example.org", "llm", "x")
    assert "already has a profile named 'llm'" in twice.stderr
    edited = run(tmp_path, "profile", "edit", "bob@example.org", "llm", "--rename", "language")
    assert edited.returncode == 0, edited.stderr
    listed = run(tmp_path, "profile", "list", "bob@example.org")
    assert "language" in listed.stdout
    assert 'title:llm OR "language models"' in listed.stdout
    assert run(tmp_path, "profile", "remove", "bob@example.org", "language").returncode == 0
    assert rows(tmp_path, "select count(*) from profiles") == [(0,)]


def test_the_cli_keeps_a_subscriber_at_the_stores_profile_limit(tmp_path: Path) -> None:
    profiles = [arg for i in range(MAX_PROFILES) for arg in ("--profile", f"p{i}=word{i}")]
    assert run(tmp_path, "subscriber", "add", "bob@example.org", *profiles).returncode == 0
    over = run(tmp_path, "profile", "add", "bob@example.org", "one-more", "diffusion")
    assert over.returncode == 2
    assert f"at most {MAX_PROFILES}" in over.stderr
    assert "paperboy profile remove" in over.stderr
    assert "Traceback" not in over.stderr
    assert rows(tmp_path, "select count(*) from profiles") == [(MAX_PROFILES,)]


def test_profile_test_highlights_what_it_would_match(tmp_path: Path) -> None:
    assert run(tmp_path, "demo").returncode == 0
    result = run(tmp_path, "profile", "test", '"high fidelity" OR variational', "--days", "7")
    assert result.returncode == 0, result.stderr
    demo_papers = [*saved_papers(), *parse_page(capture("hf-daily-2026-07-02.html"), "p").papers]
    node = parse('"high fidelity" OR variational')
    expected = sum(1 for p in demo_papers if matches(node, p))
    assert expected >= 3
    assert f"{expected} of 161 papers from the last 7 days match." in result.stdout
    assert "2406.04329" in result.stdout  # the masked-diffusion paper says "variational"
    assert 'matched: "high fidelity" in abstract' in result.stdout
    broken = run(tmp_path, "profile", "test", "video (")
    assert broken.returncode == 2
    assert "profile 'test': unexpected end of query" in broken.stderr


def test_profile_help_prints_the_grammar(tmp_path: Path) -> None:
    result = run(tmp_path, "profile", "help")
    assert result.returncode == 0
    for piece in ('"neural radiance"', "diffus*", "author:", "upvotes>=20", "has:code"):
        assert piece in result.stdout


def test_import_and_export(tmp_path: Path) -> None:
    source = tmp_path / "people.json"
    source.write_text(
        json.dumps(
            [
                {
                    "email": "Carol@Example.org",
                    "time_zone": "Asia/Tokyo",
                    "send_hour": 9,
                    "profiles": [{"name": "rl", "query": '"reinforcement learning"'}],
                },
                {"email": "dan@example.org", "frequency": "weekdays"},
            ]
        )
    )
    imported = run(tmp_path, "subscriber", "import", str(source))
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 subscribers with 1 profile." in imported.stdout
    exported = run(tmp_path, "subscriber", "export", "--format", "json")
    data = json.loads(exported.stdout)
    assert [d["email"] for d in data] == ["carol@example.org", "dan@example.org"]
    assert data[0]["profiles"] == [{"name": "rl", "query": '"reinforcement learning"'}]
    bad = tmp_path / "bad.csv"
    bad.write_text("email,time_zone\nerin@example.org,UTC\nfrank@,UTC\n")
    refused = run(tmp_path, "subscriber", "import", str(bad))
    assert refused.returncode == 2
    assert "1 bad row, nothing imported: line 3: 'frank@'" in " ".join(refused.stderr.split())
    with sqlite3.connect(tmp_path / "pb.db") as db:
        assert db.execute("select count(*) from subscribers").fetchone() == (2,)


def test_subscriber_list_as_json_for_scripts_without_the_link_key(tmp_path: Path) -> None:
    long = "a.rather.long.mailbox.name.for.tables@lists.subdomain.example.org"
    assert run(tmp_path, "subscriber", "add", long, "--profile", "v=video").returncode == 0
    assert run(tmp_path, "subscriber", "add", "b@example.org").returncode == 0
    shown = run(tmp_path, "subscriber", "list", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert [(s["email"], s["profiles"]) for s in found] == [(long, 1), ("b@example.org", 0)]
    assert all("link_key" not in s for s in found)
    lines = run(tmp_path, "subscriber", "list", COLUMNS="80").stdout.splitlines()
    assert lines[0].startswith("2 subscribers")
    first = next(i for i, line in enumerate(lines) if "a.rather.long" in line)
    assert lines[first + 1].split("│")[1].strip() in ("", "b@example.org")  # never split
