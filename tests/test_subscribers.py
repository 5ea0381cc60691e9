"""Subscribers and profiles in the store (SQLite and PostgreSQL), and the rules before it."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from paperboy import subscribers as rules
from paperboy.errors import InputError, ProfileSyntaxError
from paperboy.transfer import export, parse_import
from store.engine import make_engine
from store.errors import TooManyProfiles
from store.subscribers import MAX_PROFILES, SubscriberStore
from store.tables import PROFILES, SUBSCRIBERS
from store.types import NewSubscriber, SubscriberSettings
from tests.conftest import PINNED
from tests.databases import migrated_engine


@pytest.fixture
def people(database_url: str) -> Iterator[SubscriberStore]:
    engine = migrated_engine(database_url)
    yield SubscriberStore(engine)
    engine.dispose()


def alice(**profiles: str) -> NewSubscriber:
    return NewSubscriber(
        email=rules.normalise_email(" Alice@Example.ORG "),
        status="active",
        settings=rules.settings(zone="Europe/London", hour=7),
        profiles=tuple(rules.profile(n, q) for n, q in profiles.items()),
    )


def test_add_normalises_and_keeps_profiles(people: SubscriberStore) -> None:
    added = people.add(
        alice(vision="diffusion OR video", llm='title:llm "language models"'), PINNED
    )
    assert added.email == "alice@example.org"
    assert (added.status, added.time_zone, added.send_hour) == ("active", "Europe/London", 7)
    assert added.confirmed_at == PINNED
    assert [p.name for p in people.profiles(added.id)] == ["llm", "vision"]


def test_duplicate_address_is_refused_whatever_its_case(people: SubscriberStore) -> None:
    people.add(alice(), PINNED)
    again = NewSubscriber(
        rules.normalise_email("ALICE@example.org"), "active", SubscriberSettings()
    )
    with pytest.raises(InputError, match=r"already subscribed: alice@example\.org"):
        people.add(again, PINNED)
    assert people.count() == 1


def test_unsubscribe_keeps_the_row_forget_erases_it(people: SubscriberStore) -> None:
    added = people.add(alice(vision="video"), PINNED)
    gone = people.set_status(added.email, "unsubscribed", PINNED)
    assert (gone.status, gone.unsubscribed_at) == ("unsubscribed", PINNED)
    assert people.active_profiles() == []
    people.forget(added.email)
    assert people.get(added.email) is None
    assert people.all_profiles() == {}


def test_active_profiles_only_of_active_subscribers(people: SubscriberStore) -> None:
    a = people.add(alice(vision="video"), PINNED)
    b = people.add(
        NewSubscriber(
            "bob@example.org", "paused", SubscriberSettings(), (rules.profile("x", "llama"),)
        ),
        PINNED,
    )
    assert [(s.email, p.name) for s, p in people.active_profiles()] == [(a.email, "vision")]
    people.set_status(b.email, "active", PINNED)
    assert len(people.active_profiles()) == 2


def test_profile_names_are_unique_per_subscriber(people: SubscriberStore) -> None:
    added = people.add(alice(vision="video"), PINNED)
    with pytest.raises(InputError, match="already has a profile named 'vision'"):
        people.add_profile(added.email, rules.profile("vision", "audio"), PINNED)
    edited = people.edit_profile(
        added.email, "vision", rules.profile("video", "video -survey"), PINNED
    )
    assert (edited.name, edited.query) == ("video", "video -survey")
    people.remove_profile(added.email, "video")
    assert people.profiles(added.id) == []
    with pytest.raises(InputError, match="no profile named 'video'"):
        people.remove_profile(added.email, "video")


def test_import_is_all_or_nothing(people: SubscriberStore) -> None:
    text = (
        "email,time_zone,send_hour,frequency,weekday,profile_name,profile_query\n"
        "carol@example.org,Asia/Tokyo,9,weekly,fri,rl,reinforcement learning\n"
        "carol@example.org,Asia/Tokyo,9,weekly,fri,vision,diffusion\n"
        "dave@example,UTC,8,daily,,x,llama\n"
        "erin@example.org,Mars/Base,8,daily,,x,llama\n"
        "frank@example.org,UTC,24,daily,,x,llama\n"
        "gina@example.org,UTC,8,daily,,x,(llama\n"
    )
    with pytest.raises(InputError) as info:
        parse_import(text, "csv")
    message = info.value.message
    assert message.startswith("4 bad rows, nothing imported: line 4: 'dave@example'")
    assert "line 5: unknown time zone 'Mars/Base'" in message
    assert "line 6: send hour 24" in message
    assert "line 7: profile 'x': missing ')'" in message
    assert people.count() == 0


def test_import_export_round_trip(people: SubscriberStore) -> None:
    text = (
        "email,status,time_zone,send_hour,frequency,weekday,max_papers,send_empty,profile_name,profile_query\n"
        'carol@example.org,active,Asia/Tokyo,9,weekly,fri,10,true,rl,"""reinforcement learning"""\n'
        "carol@example.org,active,Asia/Tokyo,9,weekly,fri,10,true,vision,diffusion\n"
        "dan@example.org,paused,UTC,8,weekdays,mon,20,false,,\n"
    )
    new = parse_import(text, "csv")
    people.add_many(new, PINNED)
    carol = people.require("carol@example.org")
    assert (carol.frequency, carol.weekday, carol.max_papers, carol.send_empty) == (
        "weekly",
        4,
        10,
        True,
    )
    profiles = people.all_profiles()
    pairs = [(s, profiles.get(s.id, [])) for s in people.list_subscribers()]
    for fmt in ("csv", "json"):
        again = parse_import(export(pairs, fmt), fmt)
        assert again == new


def test_import_refuses_an_address_already_there(people: SubscriberStore) -> None:
    people.add(alice(), PINNED)
    new = parse_import('[{"email": "bob@example.org"}, {"email": "alice@example.org"}]', "json")
    with pytest.raises(InputError, match=r"already subscribed: alice@example\.org"):
        people.add_many(new, PINNED)
    assert people.get("bob@example.org") is None  # nothing half-imported


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rules.normalise_email("not-an-address"), "is not a valid email address"),
        (lambda: rules.time_zone("Europe/Londn"), "unknown time zone 'Europe/Londn'"),
        (lambda: rules.time_zone("../../etc/passwd"), "unknown time zone"),
        (lambda: rules.send_hour(-1), "send hour -1 is not between 0 and 23"),
        (lambda: rules.frequency("hourly"), "'hourly' is not a frequency"),
        (lambda: rules.weekday("someday"), "'someday' is not a weekday"),
        (lambda: rules.max_papers(0), "maximum papers 0 is not between 1 and 100"),
        (lambda: rules.profile("", "llama"), "profile name '' is not usable"),
    ],
)
def test_rules_say_what_is_wrong(call: object, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        call()  # type: ignore[operator]


def test_profile_rule_raises_the_syntax_error() -> None:
    with pytest.raises(ProfileSyntaxError, match="profile 'vision': unexpected '\\)' at column 14"):
        rules.profile("vision", "diffusion OR )")


def test_addresses_are_kept_in_a_form_the_sender_can_use() -> None:
    """Digests go out without SMTPUTF8: a non-ASCII mailbox name is refused at the door (it
    could never be delivered), an international domain is kept in its IDNA form."""
    with pytest.raises(InputError, match=r"not a valid email address.*Internationalized"):
        rules.normalise_email("rené@example.org")
    assert rules.normalise_email("Reader@Bücher.example") == "reader@xn--bcher-kva.example"


@pytest.mark.parametrize(
    "typed",
    [
        "²",  # superscript two: str.isdigit() says yes, int() says no
        "①",
        "٣",  # Arabic-Indic three: int() would read it as 3
        "8:٣0",
        "8:²0",
        "9" * 5000,  # past Python's 4300-digit limit for int()
        "8:" + "9" * 5000,
        "0008",
        "8:",
        "8:5",
        "8:30:00",
        "-1",
        "+8",
        "8.5",
        "",
        "8\x00",
    ],
)
def test_send_times_are_ascii_digits_only(typed: str) -> None:
    """Only 0-23, optionally :00-:59, in ASCII digits; anything else is one InputError."""
    with pytest.raises(InputError, match=r"send time .* is not an hour or HH:MM") as info:
        rules.send_time(typed)
    assert len(info.value.message) < 120  # 5,000 nines are not echoed back in full


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("8", (8, 0)),
        ("08", (8, 0)),
        (" 8 ", (8, 0)),
        ("08:30", (8, 30)),
        ("23:59", (23, 59)),
        ("0:00", (0, 0)),
        (7, (7, 0)),
    ],
)
def test_send_times_that_are_fine(typed: str | int, expected: tuple[int, int]) -> None:
    assert rules.send_time(typed) == expected


def test_an_imported_send_hour_in_other_digits_is_a_bad_row() -> None:
    with pytest.raises(InputError, match="item 0: send time '²' is not an hour or HH:MM"):
        parse_import('[{"email": "a@example.org", "send_hour": "²"}]', "json")


FORMULAS = {
    "neg": "-survey diffusion",  # a real query: NOT survey, AND diffusion
    "eq": "=cmd|calc OR llama",
    "plus": "+cmd OR llama",
    "at": "@SUM OR llama",
    "quote": "'-quoted OR llama",
}


def test_csv_export_neutralises_formulas_and_import_reads_them_back(
    people: SubscriberStore,
) -> None:
    """OWASP's advice: a cell that starts with = + - @ tab or CR gets a leading quote, so a
    spreadsheet shows it as text instead of running it; import takes that quote off again."""
    people.add(alice(**FORMULAS), PINNED)
    people.add(
        NewSubscriber(
            email=rules.normalise_email("-=1+2@example.org"),
            status="active",
            settings=SubscriberSettings(),
            profiles=(),
        ),
        PINNED,
    )
    profiles = people.all_profiles()
    pairs = [(s, profiles.get(s.id, [])) for s in people.list_subscribers()]
    text = export(pairs, "csv")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'-survey diffusion" in cells
    assert "'=cmd|calc OR llama" in cells
    assert "''-quoted OR llama" in cells  # a leading quote is itself quoted: nothing is lost
    assert "'-=1+2@example.org" in cells
    again = {n.email: n for n in parse_import(text, "csv")}
    assert {p.name: p.query for p in again["alice@example.org"].profiles} == FORMULAS
    assert "-=1+2@example.org" in again


def test_a_quoted_cell_written_by_hand_or_by_a_spreadsheet_is_read_without_its_quote() -> None:
    text = "email,profile_name,profile_query\nbob@example.org,x,'-survey diffusion\n"
    (bob,) = parse_import(text, "csv")
    assert bob.profiles[0].query == "-survey diffusion"
    (kept,) = parse_import("email,profile_name,profile_query\nb@example.org,x,'llama'\n", "csv")
    assert kept.profiles[0].query == "'llama'"  # only a quote that guards something goes


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        (
            'email,profile_name,profile_query\na@example.org,x,"' + "a" * 200_000 + '"\n',
            "csv",
            "line 2: a field is longer than",
        ),
        ("[" * 100_000, "json", "nested too deeply"),
        ('[{"email": "a@example.org", "max_papers": ' + "9" * 5000 + "}]", "json", "not JSON"),
        ('[{"email": "a@example.org", "max_papers": "' + "9" * 5000 + '"}]', "json", "item 0"),
        ('[{"email": "a@example.org", "max_papers": "٣"}]', "json", "item 0: max_papers '٣'"),
    ],
)
def test_hostile_import_files_are_one_input_error(text: str, fmt: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as info:
        parse_import(text, fmt)
    assert len(info.value.message) < 300


def test_the_store_keeps_a_subscriber_at_twenty_profiles_whoever_adds(
    people: SubscriberStore,
) -> None:
    """The cap was only the manage page's: the CLI, an import or a second tab went past it."""
    added = people.add(alice(**{f"p{i:02d}": f"word{i}" for i in range(MAX_PROFILES)}), PINNED)
    with pytest.raises(TooManyProfiles) as caught:
        people.add_profile(added.email, rules.profile("one-more", "diffusion"), PINNED)
    assert caught.value.limit == MAX_PROFILES
    assert "alice@example.org" in caught.value.message
    assert len(people.profiles(added.id)) == MAX_PROFILES  # nothing written
    with pytest.raises(TooManyProfiles):
        people.add(
            NewSubscriber(
                email="bob@example.org",
                status="active",
                settings=rules.settings(zone="UTC", hour=7),
                profiles=tuple(rules.profile(f"b{i}", "x") for i in range(MAX_PROFILES + 1)),
            ),
            PINNED,
        )
    assert people.get("bob@example.org") is None  # the subscriber is not half written


def test_an_addition_waits_for_one_in_flight_and_then_counts_it(
    people: SubscriberStore, database_url: str
) -> None:
    """Two additions at once cannot both pass the count: the second waits for the first's
    transaction (the subscriber's row is locked on PostgreSQL, SQLite has one writer)."""
    added = people.add(alice(**{f"p{i:02d}": f"w{i}" for i in range(MAX_PROFILES - 1)}), PINNED)
    outcomes: list[str] = []

    def add() -> None:
        try:
            people.add_profile(added.email, rules.profile("over", "diffusion"), PINNED)
            outcomes.append("added")
        except TooManyProfiles:
            outcomes.append("refused")

    other = make_engine(database_url)
    try:
        with other.begin() as first:  # another addition, in flight: it locked, counted 19
            first.execute(
                select(SUBSCRIBERS.c.id).where(SUBSCRIBERS.c.id == added.id).with_for_update()
            )
            second = threading.Thread(target=add)
            second.start()
            second.join(timeout=0.7)
            assert second.is_alive(), f"the second addition did not wait: {outcomes}"
            first.execute(
                PROFILES.insert().values(
                    subscriber_id=added.id,
                    name="last",
                    query="diffusion",
                    created_at=PINNED,
                    updated_at=PINNED,
                )
            )
        second.join(timeout=30)
    finally:
        other.dispose()
    assert outcomes == ["refused"]
    assert len(people.profiles(added.id)) == MAX_PROFILES
