"""`paperboy doctor`: is everything a run needs in place? One verdict per line, no side effects."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from sqlalchemy import Engine

from mailer.smtp import Security, SmtpConfig, SmtpTransport
from mailer.transports import SendError
from paperboy.errors import PaperboyError
from paperboy.feedback import spec
from paperboy.freshness import FRESH_FOR
from paperboy.profiles.document import PaperLike
from paperboy.profiles.matcher import Matcher
from paperboy.semantic.closeness import Closeness, Want
from paperboy.semantic.load import OFF_REASON
from paperboy.semantic.minilm import MiniLM, model_files
from paperboy.semantic.vectors import needs_meaning
from paperboy.settings import MailTransport, Settings
from scraper.http import ClientConfig, PoliteHttp, Politeness, build_client
from scraper.models import GOOD_VERDICTS, Verdict, View
from store.engine import current_revision, head_revision
from store.ledger import Ledger
from store.repository import SqlStore
from store.subscribers import SubscriberStore
from store.types import DeliveryState

PROFILES_NAMED = 10  # bad profiles spelled out; the rest are counted
SOURCES = (View.DAY, View.TRENDING, View.WEEK, View.MONTH, View.SEARCH)


class Level(StrEnum):
    """A check's verdict, printed upper-case by `paperboy doctor` (a FAIL exits 1)."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Level
    detail: str


def run_checks(
    settings: Settings, engine: Engine, now: datetime, transport: httpx.BaseTransport | None = None
) -> list[Check]:
    checks = [
        Check(
            "settings",
            Level.OK,
            f"read; database {engine.url.render_as_string(hide_password=True)}",
        )
    ]
    database = _database(engine)
    checks.append(database)
    checks.append(_mail(settings))
    checks.append(_robots(settings, transport))
    meaning = meaning_check(settings)
    checks.append(meaning)
    if database.status != Level.FAIL:
        checks.extend(_fetches(SqlStore(engine), now, feed=settings.feed_url is not None))
        checks.append(_deliveries(Ledger(engine)))
        checks.append(_guard("profiles", lambda: _profiles(SubscriberStore(engine), meaning)))
    return checks


def _guard(name: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except PaperboyError as e:
        return Check(name, Level.FAIL, e.message)


def _database(engine: Engine) -> Check:
    def probe() -> Check:
        current, head = current_revision(engine), head_revision()
        if current != head:
            return Check(
                "database",
                Level.FAIL,
                f"schema {current or 'empty'}, needs {head}: run `paperboy db upgrade`",
            )
        return Check("database", Level.OK, f"reachable, schema {current} is current")

    return _guard("database", probe)


def _mail(settings: Settings) -> Check:
    if settings.mail_transport is MailTransport.NULL:
        return Check("mail", Level.WARN, "PAPERBOY_MAIL_TRANSPORT=null: digests are discarded")
    if settings.mail_transport is MailTransport.OUTBOX:
        folder = settings.outbox_dir
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            return Check("mail", Level.FAIL, f"the outbox {folder} is not writable")
        return Check("mail", Level.OK, f"outbox {folder} is writable")
    config = SmtpConfig(
        settings.smtp_host,
        settings.smtp_port,
        Security(settings.smtp_security),
        settings.smtp_username,
        settings.smtp_password.get_secret_value(),
        timeout=10,
        verify_tls=settings.smtp_verify_tls,
    )
    try:
        asyncio.run(_smtp_check(SmtpTransport(config)))
    except SendError as e:
        return Check("mail", Level.FAIL, e.message)
    login = " and logged in" if settings.smtp_username else ""
    return Check(
        "mail", Level.OK, f"SMTP {settings.smtp_host}:{settings.smtp_port} answered{login}"
    )


def meaning_check(settings: Settings) -> Check:
    """Load the model as a run would (hashes checked), embed one sentence and time both; a
    model that cannot be used is a warning: about: and like: then use lexical similarity."""
    if settings.semantic == "off":
        return Check("meaning", Level.WARN, OFF_REASON)
    started = time.perf_counter()
    try:
        model = MiniLM.load(model_files(settings.model_path), threads=settings.model_threads)
        loaded = time.perf_counter()
        model.embed(["Paperboy checks that the embedding model runs."])
    except PaperboyError as e:
        return Check("meaning", Level.WARN, f"{e.message} ({e.hint})")
    done = time.perf_counter()
    return Check(
        "meaning",
        Level.OK,
        f"{model.model_id}: hashes checked and loaded in {loaded - started:.1f} s, "
        f"one sentence embedded in {(done - loaded) * 1000:.0f} ms",
    )


def _robots(settings: Settings, transport: httpx.BaseTransport | None) -> Check:
    config = ClientConfig(settings.hf_base_url, settings.http_user_agent(), 10, 10)
    with build_client(config, transport=transport) as client:
        http = PoliteHttp(client, Politeness(delay=0, max_retries=0))
        try:
            answer = http.get("/robots.txt", accept="text/plain")
        except PaperboyError as e:
            return Check("site", Level.FAIL, e.message)
    if answer.status_code >= 500:
        return Check(
            "site", Level.FAIL, f"robots.txt answered HTTP {answer.status_code}: runs are skipped"
        )
    return Check(
        "site",
        Level.OK,
        f"{settings.hf_base_url} reachable (robots.txt: HTTP {answer.status_code})",
    )


def _fetches(store: SqlStore, now: datetime, *, feed: bool = False) -> list[Check]:
    checks = []
    for source in (*SOURCES, View.FEED) if feed else SOURCES:
        good = store.last_fetch(verdicts=GOOD_VERDICTS, source=source)
        last = store.last_fetch(source=source)
        name = f"fetch {source}"
        if last is None:
            optional = (View.WEEK, View.MONTH, View.SEARCH, View.FEED)
            status = Level.WARN if source in optional else Level.FAIL
            checks.append(Check(name, status, "never fetched"))
        elif last.verdict == Verdict.BROKEN:
            checks.append(Check(name, Level.FAIL, f"last fetch broken: {last.error}"))
        elif (
            good is not None
            and now - good.finished_at > FRESH_FOR
            and source in (View.DAY, View.TRENDING)
        ):
            checks.append(
                Check(
                    name,
                    Level.FAIL,
                    f"no successful fetch since {good.finished_at:%Y-%m-%d %H:%M} UTC",
                )
            )
        else:
            assert good is not None
            checks.append(
                Check(
                    name,
                    Level.OK,
                    f"last success {good.finished_at:%Y-%m-%d %H:%M} UTC ({good.verdict})",
                )
            )
    recent = [f for f in store.list_fetches(limit=500) if now - f.started_at <= timedelta(days=1)]
    broken = sum(f.verdict == Verdict.BROKEN for f in recent)
    status = Level.OK if not broken else (Level.WARN if broken < len(recent) else Level.FAIL)
    checks.append(Check("last 24 h", status, f"{len(recent)} fetches, {broken} broken"))
    return checks


def _profiles(people: SubscriberStore, meaning: Check | None = None) -> Check:
    """Every stored profile through the matcher that compose uses: one it refuses (saved before
    the query limits, or written into the database by hand) stops its subscriber's digest.
    Those with about:/like: are counted, and said to match lexically when the model is not
    usable (``meaning`` is the model's check)."""
    emails = {s.id: s.email for s in people.list_subscribers()}
    specs = [spec(p) for profiles in people.all_profiles().values() for p in profiles]
    rejected = Matcher(specs, _NotAsked()).rejected  # compiled, never run: no model loaded
    semantic = _by_meaning(sum(needs_meaning([s.query]) for s in specs), meaning)
    if not rejected:
        return Check("profiles", Level.OK, f"{len(specs)} profiles, every one usable{semantic}")
    named = [
        f"{emails.get(spec.subscriber_id, f'subscriber {spec.subscriber_id}')}: {error.message}"
        for spec, error in rejected[:PROFILES_NAMED]
    ]
    more = len(rejected) - len(named)
    return Check(
        "profiles",
        Level.FAIL,
        f"{len(rejected)} of {len(specs)} profiles unusable, their subscribers get no digest: "
        + "; ".join(named)
        + (f"; and {more} more" if more else "")
        + " (fix with `paperboy profile edit` or remove with `paperboy profile remove`)"
        + semantic,
    )


class _NotAsked:
    """A Meaning for compiling profiles only (doctor matches no paper)."""

    model_id = "doctor"

    def close(self, wants: Sequence[Want], papers: Sequence[PaperLike]) -> list[Closeness]:
        raise AssertionError("doctor matches no paper")

    def held_back(self, rejected: tuple[str, ...], papers: Sequence[PaperLike]) -> int:
        raise AssertionError("doctor matches no paper")

    def why(self, want: Want, paper: PaperLike) -> str:
        raise AssertionError("doctor matches no paper")


def _by_meaning(count: int, meaning: Check | None) -> str:
    if not count:
        return ""
    said = f"; {count} match by meaning (about:/like:)"
    if meaning is not None and meaning.status != Level.OK:
        said += ", by lexical similarity until the model loads (see meaning); no digest is lost"
    return said


def _deliveries(ledger: Ledger) -> Check:
    counts = ledger.counts()
    stuck = counts.get(DeliveryState.UNKNOWN, 0) + counts.get(DeliveryState.PERM_FAILED, 0)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none yet"
    return Check("deliveries", Level.WARN if stuck else Level.OK, summary)


async def _smtp_check(transport: SmtpTransport) -> None:
    try:
        await transport.check()
    finally:
        await transport.close()
