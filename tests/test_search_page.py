"""The search box on /, the shelf of recent papers kept in memory, and /healthz's kept answer.

The shelf's query evaluation (paperboy.web.lookup) must give the matcher's answers: the same
papers, the same order, the same highlighted terms, for any query of the language.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import cast

import httpx
import pytest
from hypothesis import HealthCheck as Checks
from hypothesis import given, settings
from sqlalchemy import text

from paperboy.errors import ProfileSyntaxError
from paperboy.ingest import plan_batch
from paperboy.profiles.parser import parse
from paperboy.semantic.runtime import Semantics
from paperboy.web.health import HealthCheck
from paperboy.web.library import Library
from paperboy.web.lookup import find, matches
from paperboy.web.preview import SEARCH_SHOWN, preview, search
from scraper.models import View
from store.engine import open_engine
from store.freshness_probe import FreshnessProbe
from store.repository import SqlStore
from tests.builders import outcome
from tests.pages import Site, site
from tests.papers import saved_papers
from tests.test_query_language import QUERIES
from tests.test_semantic_query import FakeMeaning
from tests.world import NOW

FIXED = (
    "diffusion",
    'diffusion OR "video generation" -survey',
    "llm* AND reasoning",
    "title:agent OR author:Wang",
    "upvotes>=20 -model",
    "has:code language",
    "-the",
)


def valid(query: str) -> bool:
    try:
        parse(query)
    except ProfileSyntaxError:
        return False
    return True


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Library, SqlStore]]:
    engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('shelf')}/shelf.db")
    store = SqlStore(engine)
    at = NOW - timedelta(hours=2)
    store.ingest(plan_batch(outcome(saved_papers(), view=View.DAY, period="2026-07-02", at=at)))
    yield Library(store, FreshnessProbe(engine)), store
    engine.dispose()


def same_as_matcher(
    library: Library, store: SqlStore, query: str, meaning: FakeMeaning | None = None
) -> None:
    shelf = library.shelf(NOW)
    every = shelf.between(NOW - timedelta(days=7), NOW)
    found = find(query, library.index(shelf), every, 1000, meaning=meaning, closeness=1)
    week = store.papers_seen_between(NOW - timedelta(days=7), NOW)
    expected = matches(query, week, meaning, closeness=1)
    assert found.total == len(expected)
    assert [p.arxiv_id for p, _ in found.best] == [m.paper.arxiv_id for m in expected]
    for (_, hits), m in zip(found.best, expected, strict=True):
        assert set(hits) == set(m.hits)


@pytest.mark.parametrize("query", FIXED)
def test_the_shelf_answers_as_the_matcher(library: tuple[Library, SqlStore], query: str) -> None:
    same_as_matcher(*library, query)


@settings(max_examples=80, deadline=None, suppress_health_check=[Checks.function_scoped_fixture])
@given(QUERIES.filter(valid))
def test_any_query_on_the_shelf_answers_as_the_matcher(
    library: tuple[Library, SqlStore], query: str
) -> None:
    same_as_matcher(*library, query)


TOPICS = (
    'about:"video generation"',
    'about:"agents" -survey OR llama',
    "like:2407.21783 upvotes>=5",
    'NOT (about:"agents" like:2403.13802,2407.21783)',
)


@pytest.mark.parametrize("query", TOPICS)
def test_topics_on_the_shelf_answer_as_the_matcher(
    library: tuple[Library, SqlStore], query: str
) -> None:
    same_as_matcher(*library, query, FakeMeaning())


class FakeSemantics:
    def meaning(self) -> FakeMeaning:
        return FakeMeaning()


def test_a_topic_preview_and_search_use_the_shelf_and_meaning(
    library: tuple[Library, SqlStore],
) -> None:
    _, store = library
    query = 'about:"agents" OR diffusion'
    week = store.papers_seen_between(NOW - timedelta(days=7), NOW)
    expected = matches(query, week, FakeMeaning(), closeness=-1)
    semantics = cast(Semantics, FakeSemantics())
    shown = preview(store, query, NOW, semantics=semantics, closeness=-1)
    assert shown.total == len(expected) > 0
    assert [e.arxiv_id for e in shown.entries] == [m.paper.arxiv_id for m in expected[:10]]
    found = search(store, query, NOW, semantics=semantics)
    assert found.since is not None
    shelf = store.papers_seen_between(found.since, NOW)
    assert found.total == len(matches(query, shelf, FakeMeaning())) > 0
    assert search(store, query, NOW).total == len(matches(query, week)) == 0  # no meaning


def test_the_shelf_is_read_again_only_after_a_fetch_or_its_age(tmp_path: object) -> None:
    engine = open_engine(f"sqlite:///{tmp_path}/s.db")
    store = SqlStore(engine)
    ticks = [0.0]
    shelves = Library(store, FreshnessProbe(engine), max_age=60, monotonic=lambda: ticks[0])
    first = shelves.shelf(NOW)
    assert first.papers == ()
    assert shelves.shelf(NOW) is first
    papers = saved_papers()[:5]
    store.ingest(plan_batch(outcome(papers, view=View.DAY, period="2026-07-02", at=NOW)))
    assert shelves.shelf(NOW) is first  # the newest fetch id is looked at twice a second
    ticks[0] = 0.6
    second = shelves.shelf(NOW)
    assert len(second.papers) == 5
    assert shelves.shelf(NOW) is second
    ticks[0] = 61.0
    assert shelves.shelf(NOW) is not second  # too old: read again whatever the probe says
    engine.dispose()


# -- the page ------------------------------------------------------------------------------


@pytest.fixture
def web(sqlite_url: str) -> Iterator[tuple[Site, httpx.Client]]:
    with site(sqlite_url) as s, httpx.Client(base_url=s.base, event_hooks=s.hooks) as client:
        yield s, client


def titles(html: str) -> list[str]:
    return re.findall(r'class="title" href="https://huggingface.co/papers/([^"]+)"', html)


def test_search_marks_terms_ranks_and_caps(web: tuple[Site, httpx.Client]) -> None:
    s, client = web
    answer = client.get("/", params={"q": "diffusion OR model*"})
    assert answer.status_code == 200
    expected = matches(
        "diffusion OR model*", s.world.papers.papers_seen_between(NOW - timedelta(days=90), NOW)
    )
    assert len(expected) > SEARCH_SHOWN
    assert f"{len(expected)} papers match" in answer.text
    assert titles(answer.text) == [m.paper.arxiv_id for m in expected[:SEARCH_SHOWN]]
    assert re.search(r"<mark[^>]*>diffusion</mark>", answer.text, re.IGNORECASE)
    assert 'value="diffusion OR model*"' in answer.text  # the box keeps what was typed


def test_a_bad_query_shows_its_column_never_a_500(web: tuple[Site, httpx.Client]) -> None:
    _, client = web
    for bad in ("diffusion AND (video", '"unclosed', "<script>alert(1)</script> OR", "upvotes>=x"):
        answer = client.get("/", params={"q": bad})
        assert answer.status_code == 400, bad
        assert "at column" in answer.text
        assert '<mark class="at">' in answer.text
        assert "<script>alert" not in answer.text
        assert "Search the papers" in answer.text  # the page, in the site's layout


def test_nothing_found_says_what_to_try(web: tuple[Site, httpx.Client]) -> None:
    _, client = web
    answer = client.get("/", params={"q": "zzyzxquux"})
    assert answer.status_code == 200
    assert "0 papers match" in answer.text
    assert "Try fewer words" in answer.text
    assert client.get("/", params={"q": "  "}).text == client.get("/").text  # blank: recent


def test_recent_page_follows_new_papers_and_the_clock(
    web: tuple[Site, httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    s, client = web
    monkeypatch.setattr("paperboy.web.library.PROBE_INTERVAL", 0.0)  # look at every request
    before = client.get("/")
    assert client.get("/").content == before.content  # rendered once, kept
    new = replace(saved_papers()[0], arxiv_id="2607.99999", title="Brand new paper", upvotes=9999)
    s.world.ingest((new,), NOW - timedelta(minutes=5))
    after = client.get("/")
    assert titles(after.text)[0] == "2607.99999"
    assert "2607.99999" in titles(client.get("/", params={"q": "brand"}).text)
    assert "2607.99999" in client.get("/preview", params={"q": "brand"}).text
    s.clock.advance(days=7, minutes=-10)  # everything but the new paper left the week
    assert titles(client.get("/").text) == ["2607.99999"]


def test_healthz_reads_the_database_at_most_once_per_ttl(sqlite_url: str) -> None:
    engine = open_engine(sqlite_url)
    ticks = [0.0]
    health = HealthCheck(engine, ttl=1.0, monotonic=lambda: ticks[0])

    async def status() -> int:
        return (await health.answer()).status_code

    assert asyncio.run(status()) == 200
    with engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = 'elsewhere'"))
    assert asyncio.run(status()) == 200  # the kept answer
    ticks[0] = 1.5
    assert asyncio.run(status()) == 503
    engine.dispose()
