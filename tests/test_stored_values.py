"""One enum per state (issue 18): what the store reads back are members, what it writes are the
same plain values as before, and every status change goes through transition()."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from mailer.smtp import Security, SmtpConfig
from paperboy import subscribers as rules
from paperboy.errors import InputError
from paperboy.ingest import plan_batch
from paperboy.schedule import Timing
from scraper.models import Verdict, View
from store.engine import make_engine, upgrade
from store.health import HealthStore, Run
from store.repository import SqlStore
from store.subscribers import SubscriberStore
from store.types import Frequency, NewSubscriber, RunKind, Status
from tests.builders import outcome

NOW = datetime.fromisoformat("2026-07-02T09:30:00+00:00")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _raw(engine: Engine, sql: str) -> tuple[object, ...]:
    with engine.connect() as connection:
        return tuple(connection.execute(text(sql)).one())


def _pending(people: SubscriberStore, email: str = "a@example.org") -> int:
    settings = rules.settings(every="Weekly", day="fri")
    new = NewSubscriber(email, Status.PENDING, settings, (rules.profile("p", "diffusion"),))
    return people.add(new, NOW).id


def test_the_store_reads_members_and_writes_the_same_plain_values(engine: Engine) -> None:
    people = SubscriberStore(engine)
    _pending(people)
    found = people.require("a@example.org")
    assert found.status is Status.PENDING
    assert found.frequency is Frequency.WEEKLY
    assert _raw(engine, "SELECT status, frequency FROM subscribers") == ("pending", "weekly")
    assert type(_raw(engine, "SELECT status FROM subscribers")[0]) is str


def test_a_confirmation_goes_through_transition_once(engine: Engine) -> None:
    people = SubscriberStore(engine)
    key = people.by_id(_pending(people))
    assert key is not None
    confirmed = people.confirm_pending(key.link_key, NOW)
    assert confirmed is not None
    assert confirmed.status is Status.ACTIVE
    assert confirmed.confirmed_at is not None
    assert people.confirm_pending(key.link_key, NOW) is None  # confirmed already
    assert people.confirm_pending("no-such-key", NOW) is None
    assert _raw(engine, "SELECT status FROM subscribers") == ("active",)


def test_signing_up_again_is_refused_for_an_active_subscriber(engine: Engine) -> None:
    people = SubscriberStore(engine)
    sid = _pending(people)
    again = people.restart_signup(sid, rules.settings(), (), NOW)  # pending: allowed
    assert again.status is Status.PENDING
    assert again.frequency is Frequency.DAILY
    people.set_status(again.email, rules.transition(again.status, rules.Action.CONFIRM), NOW)
    with pytest.raises(InputError, match="who is active cannot sign up again"):
        people.restart_signup(sid, rules.settings(), (), NOW)
    assert _raw(engine, "SELECT status FROM subscribers") == ("active",)


def test_runs_and_fetches_keep_their_plain_values(engine: Engine) -> None:
    health = HealthStore(engine)
    health.record_run(Run("r1", RunKind.RUN_ONCE, NOW, NOW + timedelta(seconds=1), {"sent": 1}))
    assert health.runs()[0].kind is RunKind.RUN_ONCE
    assert _raw(engine, "SELECT kind FROM runs") == ("run-once",)
    SqlStore(engine).ingest(plan_batch(outcome((), view=View.TRENDING, at=NOW)))
    assert _raw(engine, "SELECT source, verdict FROM fetches") == ("trending", "empty")
    assert health.broken_in_a_row(View.TRENDING) == 0
    fetch = SqlStore(engine).last_fetch(source=View.TRENDING)
    assert fetch is not None
    assert fetch.verdict == Verdict.EMPTY


def test_a_timing_holds_a_frequency_whatever_it_was_given() -> None:
    assert Timing("UTC", 8, "weekly").frequency is Frequency.WEEKLY
    assert Timing("UTC", 8, Frequency.WEEKDAYS).frequency is Frequency.WEEKDAYS
    with pytest.raises(ValueError, match="fortnightly"):
        Timing("UTC", 8, "fortnightly")


def test_an_smtp_config_holds_a_security_mode() -> None:
    assert SmtpConfig("relay.example.org", 465, "tls").security is Security.TLS  # type: ignore[arg-type]
    assert f"{Security.STARTTLS}" == "starttls"
    with pytest.raises(ValueError, match="ssl"):
        SmtpConfig("relay.example.org", 465, "ssl")  # type: ignore[arg-type]
