"""`paperboy fetch` and `paperboy demo`: bring papers into the store."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import typer
from rich.markup import escape

from paperboy import subscribers as rules
from paperboy.cli.app import State, app, err, out, state
from paperboy.cli.views import papers_table, plural, reports_table, waiting
from paperboy.clock import system_clock
from scraper import sources
from scraper.sources import Source
from store.types import NewSubscriber, PaperFilter

if TYPE_CHECKING:  # the client, the parsers and the store load when a command runs
    from paperboy.ingest import Ingestor
    from paperboy.service import JobReport

MAX_BACKFILL_DAYS = 366


def _selected_sources(
    day: str | None,
    week: str | None,
    month: str | None,
    trending: bool,
    search: str | None,
    backfill: int | None,
    feed: bool = False,
) -> list[Source]:
    chosen = [
        name
        for name, value in (
            ("--date", day),
            ("--week", week),
            ("--month", month),
            ("--trending", trending or None),
            ("--search", search),
            ("--backfill", backfill),
            ("--feed", feed or None),
        )
        if value is not None
    ]
    if len(chosen) > 1:
        raise typer.BadParameter(f"choose one of {', '.join(chosen)}, not several")
    if day is not None:
        try:
            return [sources.day(date.fromisoformat(day))]
        except ValueError as e:
            raise typer.BadParameter(f"--date {day!r} is not a day like 2026-07-02") from e
    try:
        if week is not None:
            return [sources.week(week)]
        if month is not None:
            return [sources.month(month)]
        if search is not None:
            return [sources.search(search)]
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    if trending:
        return [sources.trending()]
    if feed:
        return [sources.feed()]
    if backfill is not None:
        today = system_clock().date()
        return [sources.day(today - timedelta(days=n)) for n in range(backfill)]
    return [sources.day()]


@app.command()
def fetch(
    ctx: typer.Context,
    day: str | None = typer.Option(None, "--date", help="One day, YYYY-MM-DD."),
    week: str | None = typer.Option(None, "--week", help="An ISO week, YYYY-Www (2026-W27)."),
    month: str | None = typer.Option(None, "--month", help="A month, YYYY-MM."),
    trending: bool = typer.Option(False, "--trending", help="The trending list."),
    search: str | None = typer.Option(None, "--search", help="A keyword search.", metavar="QUERY"),
    backfill: int | None = typer.Option(
        None,
        "--backfill",
        min=1,
        max=MAX_BACKFILL_DAYS,
        help="Today and the N-1 days before it, one day at a time.",
        metavar="DAYS",
    ),
    feed: bool = typer.Option(
        False, "--feed", help="The third-party RSS feed PAPERBOY_FEED_URL names."
    ),
) -> None:
    """Fetch a list from Hugging Face Papers (the latest day by default) into the store.

    Tries the JSON API, then the page's embedded data, then its rendered cards. Exits non-zero
    when a fetch is broken (unreachable, refused, or unparseable); only the failed fetch is kept.
    """
    from paperboy.wiring import build_ingestor

    selected = _selected_sources(day, week, month, trending, search, backfill, feed)
    st = state(ctx)
    site = st.settings.hf_base_url
    if feed:
        if st.settings.feed_url is None:
            raise typer.BadParameter(
                "no feed is set: put its address in PAPERBOY_FEED_URL (an RSS feed of "
                "Hugging Face's papers, e.g. https://example.org/feed_weekly.xml)",
                param_hint="--feed",
            )
        site = st.settings.feed_url
    ingestor, client = build_ingestor(st.settings, st.store())
    host = urlsplit(site).hostname or site
    with client, waiting(err, host) if backfill is None else nullcontext():
        report = _run(ingestor, selected, progress=backfill is not None)
    out.print(reports_table(report.fetched))
    raise typer.Exit(_conclude(report))


def _run(ingestor: Ingestor, selected: Sequence[Source], *, progress: bool) -> JobReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from paperboy.service import fetch_job

    if not progress:
        return fetch_job(ingestor, selected)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("backfilling", total=len(selected))
        return fetch_job(
            ingestor,
            selected,
            progress=lambda r: bar.update(task, advance=1, description=escape(r.label)),
        )


def _conclude(report: JobReport) -> int:
    """Say what the fetch did; its exit code (see paperboy.service.exit_policy)."""
    reports, broken, new = report.fetched, report.broken, report.new_papers
    if not broken:
        out.print(f"{new} new paper{'s' if new != 1 else ''} stored.")
        return report.exit_code
    first = broken[0].outcome
    failed = f"{len(broken)} of {len(reports)} fetches failed; " if len(reports) > 1 else ""
    err.print(
        f"[bold red]error:[/] {failed}{escape(broken[0].label)}: {escape(first.error or 'broken')}"
    )
    err.print(
        "[dim]hint:[/] nothing was stored from a failed fetch but its row "
        "(see `paperboy fetches`); it is safe to run again"
    )
    return report.exit_code


@app.command()
def demo(
    ctx: typer.Context,
    pages: Path | None = typer.Option(
        None,
        "--pages",
        help="Folder of saved Hugging Face captures to replay (default: the bundled ones).",
        file_okay=False,
    ),
) -> None:
    """Load the bundled saved Hugging Face pages through the real fetch path, offline.

    Replays 2024 to 2026 API answers, an HTML page and a search through the same client, parsers
    and store that `paperboy fetch` uses, then shows what was stored.
    """
    from paperboy.demo import DEFAULT_PAGES, DEMO_SOURCES, replay_transport
    from paperboy.service import fetch_job
    from paperboy.wiring import build_ingestor

    st = state(ctx)
    transport = replay_transport(pages or DEFAULT_PAGES)
    ingestor, client = build_ingestor(st.settings, st.store(), transport=transport, delay=0.0)
    with client:
        report = fetch_job(ingestor, DEMO_SOURCES)
    out.print(reports_table(report.fetched))
    store = st.store()
    out.print(papers_table(store.list_papers(PaperFilter(limit=10)), title="Top stored papers"))
    out.print(
        f"{plural(store.count_papers(), 'paper')} and "
        f"{plural(store.count_observations(), 'observation')} stored in "
        f"{escape(st.settings.database_url)}. Try `paperboy papers --search diffusion`."
    )
    code = _conclude(report)
    if code == 0:
        _demo_digest(st)
    raise typer.Exit(code)


def _demo_digest(st: State) -> None:
    """Subscribe the demo reader (once) and send whatever digest is due through the transport."""
    from paperboy.demo import DEMO_PROFILES, DEMO_READER, prime_vectors
    from paperboy.semantic.runtime import shared
    from paperboy.service import dispatch_job
    from paperboy.settings import MailTransport
    from paperboy.wiring import build_dispatcher, transport_factory

    people = st.subscribers()
    if people.get(DEMO_READER) is None:
        people.add(
            NewSubscriber(
                email=DEMO_READER,
                status=rules.Status.ACTIVE,
                settings=rules.settings(zone="UTC", hour=0, limit=10),
                profiles=tuple(rules.profile(name, query) for name, query in DEMO_PROFILES),
            ),
            system_clock(),
        )
    prime_vectors(shared(st.settings, st.engine()), st.engine(), system_clock())
    dispatcher = build_dispatcher(st.settings, st.engine())
    report = dispatch_job(dispatcher, transport_factory(st.settings), workers=1)
    where = (
        f"in {escape(str(st.settings.outbox_dir))}"
        if st.settings.mail_transport is MailTransport.OUTBOX
        else f"through {st.settings.mail_transport}"
    )
    out.print(
        f"Demo digest for {DEMO_READER}: {report.composed.composed} composed, "
        f"{report.delivered.sent} sent "
        f"{where} (once per day; `paperboy subscriber remove {DEMO_READER} --forget --yes` "
        "removes the demo reader)."
    )
