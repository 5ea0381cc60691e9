"""The shared base below the layers: fetch errors by class with their stored kinds, the store's
refusals as data (the CLI words them), and the application's modules re-exporting the base."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import base.clock
import base.errors
import paperboy.clock
import paperboy.errors
from base.errors import (
    BadAnswer,
    FetchError,
    OffSiteRedirect,
    OverLimit,
    RateLimited,
    RobotsRefused,
    TooLarge,
    TooSlow,
    Unreachable,
)
from paperboy.cli.hints import hint_for
from store.errors import (
    AlreadySubscribed,
    DanglingRows,
    MessageMissing,
    NoSuchProfile,
    NoSuchSubscriber,
    ProfileGone,
    ProfileNameTaken,
    VectorsNotKept,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (Unreachable, "network"),
        (BadAnswer, "http"),
        (RateLimited, "rate_limited"),
        (TooLarge, "limit"),
        (TooSlow, "limit"),
        (RobotsRefused, "robots"),
        (OffSiteRedirect, "redirect"),
    ],
)
def test_each_fetch_error_keeps_the_kind_stored_in_fetches(
    error: type[FetchError], kind: str
) -> None:
    raised = error("https://hf.example/api", "it failed", status_code=503, hint="wait")
    assert isinstance(raised, FetchError)
    assert (raised.kind, raised.url, raised.status_code, raised.hint) == (
        kind,
        "https://hf.example/api",
        503,
        "wait",
    )
    assert raised.message == "it failed (https://hf.example/api)"


def test_the_limits_share_one_class() -> None:
    assert issubclass(TooLarge, OverLimit)
    assert issubclass(TooSlow, OverLimit)


def test_the_application_names_the_same_objects_as_the_base() -> None:
    for name in ("PaperboyError", "FetchError", "ParseError", "StoreError", "InputError"):
        assert getattr(paperboy.errors, name) is getattr(base.errors, name)
    assert paperboy.clock.system_clock is base.clock.system_clock
    assert paperboy.clock.fixed_clock is base.clock.fixed_clock


@pytest.mark.parametrize(
    ("error", "message", "hint"),
    [
        (
            AlreadySubscribed(["b@example.org", "a@example.org"]),
            "already subscribed: a@example.org, b@example.org",
            "use `paperboy subscriber set` to change an existing subscriber",
        ),
        (
            NoSuchSubscriber("a@example.org"),
            "no subscriber 'a@example.org'",
            "`paperboy subscriber list` shows who there is",
        ),
        (
            ProfileNameTaken("a@example.org", "vision"),
            "a@example.org already has a profile named 'vision'",
            "use `paperboy profile edit` to change it",
        ),
        (
            NoSuchProfile("video"),
            "no profile named 'video'",
            "`paperboy profile list EMAIL` shows them",
        ),
        (ProfileGone(7), "this profile no longer exists", "the manage page shows your profiles"),
        (
            MessageMissing(3, 5),
            "delivery 3 was claimed but its digest 5 has no message",
            "see it with `paperboy deliveries`; report this with `paperboy db current`",
        ),
        (
            DanglingRows([(1, "profiles")]),
            "the migration left 1 row(s) pointing at nothing: [(1, 'profiles')]",
            "nothing was changed; report this with the output of `paperboy db current`",
        ),
        (
            VectorsNotKept("database write failed: disk I/O error"),
            "database write failed: disk I/O error",
            "these vectors were not kept; `paperboy embed` computes them again",
        ),
    ],
)
def test_the_store_refuses_with_data_and_the_cli_words_the_hint(
    error: paperboy.errors.PaperboyError, message: str, hint: str
) -> None:
    assert isinstance(error, paperboy.errors.InputError | paperboy.errors.StoreError)
    assert error.message == message
    assert error.hint == ""  # no command named below the CLI
    assert hint_for(error) == hint


def test_other_errors_keep_their_own_hint() -> None:
    assert hint_for(paperboy.errors.StoreError("down", hint="start it")) == "start it"


def test_the_database_hint_comes_first_for_vectors_not_kept() -> None:
    full = VectorsNotKept("database write failed: disk full", hint="free space")
    assert hint_for(full) == "free space"


def _strings(tree: ast.AST) -> list[str]:
    """String literals of a module, docstrings left out (they may name commands: they explain)."""
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


@pytest.mark.parametrize(
    "path",
    sorted(
        str(p.relative_to(ROOT))
        for layer in ("store", "mailer", "scraper")
        for p in (ROOT / layer).rglob("*.py")
    ),
)
def test_the_layers_below_name_no_cli_command(path: str) -> None:
    """What to run next is the application's wording (paperboy/cli/hints.py, the sender's
    RELAY_HINT), never the store's, the mailer's or the scraper's."""
    tree = ast.parse((ROOT / path).read_text())
    assert [s for s in _strings(tree) if re.search(r"paperboy (?:[a-z]+)", s)] == []
