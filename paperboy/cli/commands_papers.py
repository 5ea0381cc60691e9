"""`paperboy papers` and `paperboy fetches`: look at what the store holds."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import typer

from paperboy.cli.app import app, out, state
from paperboy.cli.views import (
    FORMAT,
    Format,
    as_json,
    fetch_errors,
    fetches_table,
    paper_detail,
    papers_table,
    plural,
    records,
)
from paperboy.clock import system_clock
from paperboy.errors import PaperboyError
from scraper.models import Verdict, View
from scraper.sources import day, month, week
from store.types import PaperFilter


@app.command()
def papers(
    ctx: typer.Context,
    arxiv_id: str | None = typer.Argument(None, help="Show this one paper in full."),
    search: str | None = typer.Option(None, "--search", "-s", help="Text in title or abstract."),
    min_upvotes: int = typer.Option(
        0, "--min-upvotes", min=0, max=1_000_000_000, help="At least this many."
    ),
    days: int | None = typer.Option(
        None, "--days", min=1, max=36_500, help="First seen in the last N days."
    ),
    view: View | None = typer.Option(None, "--view", help="Seen in this list ..."),
    period: str | None = typer.Option(None, "--period", help="... for this period."),
    limit: int = typer.Option(30, "--limit", min=1, max=10_000, help="At most this many."),
    format_: Format = FORMAT,
) -> None:
    """List stored papers (most upvoted first), filter them, or show one in full."""
    store = state(ctx).store()
    if arxiv_id is not None:
        paper = store.get_paper(arxiv_id)
        if paper is None:
            raise PaperboyError(
                f"no paper {arxiv_id!r} in the store",
                hint="`paperboy papers --search WORD` finds ids; `paperboy fetch` brings papers",
            )
        seen = store.observations_of(arxiv_id)
        if format_ is Format.JSON:
            print(as_json(dataclasses.asdict(paper) | {"observations": records(seen)}))
        else:
            out.print(paper_detail(paper, seen))
        return
    if period is not None and view is not None:
        _check_period(view, period)
    since = system_clock() - timedelta(days=days) if days else None
    found = store.list_papers(
        PaperFilter(
            text=search,
            min_upvotes=min_upvotes,
            seen_since=since,
            view=view,
            period=period,
            limit=limit,
        )
    )
    if format_ is Format.JSON:
        print(as_json(records(found)))
    else:
        out.print(papers_table(found, title=plural(len(found), "paper")))


def _check_period(view: View, period: str) -> None:
    try:
        if view is View.DAY:
            from datetime import date

            day(date.fromisoformat(period))
        elif view is View.WEEK:
            week(period)
        elif view is View.MONTH:
            month(period)
    except ValueError as e:
        raise typer.BadParameter(f"--period for --view {view.value}: {e}") from e


@app.command()
def fetches(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", min=1, max=10_000, help="At most this many."),
    source: View | None = typer.Option(None, "--source", help="Only this list."),
    verdict: Verdict | None = typer.Option(None, "--verdict", help="Only this verdict."),
    format_: Format = FORMAT,
) -> None:
    """Recent fetches with their verdicts, newest first (broken ones say why)."""
    rows = state(ctx).store().list_fetches(limit=limit, source=source, verdict=verdict)
    if format_ is Format.JSON:
        print(as_json(records(rows)))
        return
    out.print(fetches_table(rows))
    for line in fetch_errors(rows):
        out.print(line, soft_wrap=True)
