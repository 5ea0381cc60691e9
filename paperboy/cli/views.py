"""Rich renderings of reports, papers and fetches, and their JSON for scripts: the CLI's only
presentation code. Tables fit 80 columns: the title gets the width, identifiers, addresses and
URLs are never broken over lines (a fetch's or delivery's error goes on a line of its own)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from scraper.models import Verdict
from store.types import DeliveryState as DeliveryState  # as `deliveries --state` takes them

if TYPE_CHECKING:  # types only: the pipeline's modules load when a command runs
    from collections import Counter

    from rich.console import Console

    from paperboy.dispatch import Report
    from paperboy.ingest import IngestReport
    from paperboy.signals import Stop
    from store.types import Delivery, Fetch, Observation, Paper

VERDICT_STYLE: dict[str, str] = {
    Verdict.OK: "green",
    Verdict.EMPTY: "yellow",
    Verdict.NOT_MODIFIED: "cyan",
    Verdict.BROKEN: "bold red",
}
STATE_STYLE: dict[str, str] = {
    DeliveryState.SENT: "green",
    DeliveryState.PENDING: "cyan",
    DeliveryState.SENDING: "cyan",
    DeliveryState.TEMP_FAILED: "yellow",
    DeliveryState.EXPIRED: "yellow",
    DeliveryState.PERM_FAILED: "bold red",
    DeliveryState.UNKNOWN: "magenta",
}


class Format(StrEnum):
    """How a listing is printed: a table for people, JSON (one array of objects) for scripts."""

    TABLE = "table"
    JSON = "json"


# The --format option of every listing command.
FORMAT = typer.Option(
    Format.TABLE, "--format", help="table for people, json (an array of objects) for scripts."
)


def records(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Rows (frozen dataclasses) as dicts with every field, for as_json."""
    return [dataclasses.asdict(r) for r in rows]


def as_json(value: object) -> str:
    """JSON for scripts, times in ISO 8601 with their offset."""
    return json.dumps(value, default=_iso, ensure_ascii=False)


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


@contextmanager
def waiting(console: Console, what: str, *, after: float = 1.0) -> Iterator[None]:
    """Say what a slow call waits for: a spinner at once on a terminal; elsewhere (a log, a
    pipe) one plain line, only once the call has taken `after` seconds."""
    said = f"waiting for {what}…"
    if console.is_terminal:
        with console.status(escape(said)):
            yield
        return
    timer = threading.Timer(after, console.print, (said,), {"markup": False, "highlight": False})
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 digest', '2 digests', '0 digests'."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def verdict(value: str) -> str:
    return f"[{VERDICT_STYLE.get(value, 'white')}]{value}[/]"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def refusal_lines(refusals: Counter[str], most: int = 3) -> list[str]:
    """Why messages were not handed over (they wait for a retry or failed), commonest first."""
    lines = [
        f"[yellow]warning:[/] {count} not handed over: {escape(reason)}"
        for reason, count in refusals.most_common(most)
    ]
    if len(refusals) > most:
        lines.append(f"[dim]and {len(refusals) - most} other reasons: see `paperboy deliveries`[/]")
    return lines


def delivery_counts(d: Report) -> str:
    """What one delivery run did, as `send`, `run-once` and `serve` print it."""
    counts = f"{d.sent} sent, {d.retrying} to retry, {d.failed} failed, {d.bounced} bounced"
    if d.expired:
        counts += f", {d.expired} given up (the next digest is due)"
    if d.unconfirmed:
        counts += f", {d.unconfirmed} unconfirmed"
    return counts


def unconfirmed_lines(d: Report) -> list[str]:
    """The messages a relay took whole but never confirmed: never sent again, so say so."""
    if not d.unconfirmed:
        return []
    return [
        f"[yellow]warning:[/] {d.unconfirmed} sent whole but the relay never confirmed them: "
        "marked unknown and not sent again (see `paperboy deliveries --state unknown`)"
    ]


def stop_lines(delivered: Report, stop: Stop) -> list[str]:
    """Why a delivery run stopped before the end: the breaker (the relay) or a signal."""
    lines = []
    if delivered.breaker:
        lines.append(f"[bold red]error:[/] delivery stopped: {escape(delivered.breaker)}")
        lines.append(
            "[dim]hint:[/] nothing that was not tried is counted against anyone; `paperboy "
            "doctor` checks the relay, and an alert stays open (`paperboy status`) until a "
            "later run delivers"
        )
    if stop.signum:
        lines.append(
            f"[yellow]stopped by {stop.name}:[/] the message in hand was finished; the digests "
            "not sent wait for the next run"
        )
    return lines


def reports_table(reports: Iterable[IngestReport]) -> Table:
    table = Table(title="Fetches", title_justify="left")
    for name, justify in (
        ("source", "left"),
        ("period", "left"),
        ("verdict", "left"),
        ("via", "left"),
        ("papers", "right"),
        ("new", "right"),
        ("ms", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in reports:
        o = r.outcome
        table.add_row(
            escape(r.label),
            escape(o.period),
            verdict(o.verdict.value),
            o.path.value if o.path else "-",
            str(len(o.papers)),
            str(r.result.new_papers),
            str(o.duration_ms),
        )
    return table


def papers_table(papers: Iterable[Paper], *, title: str = "Papers") -> Table:
    """Most of the width goes to the title; the author count is in `papers ID` and the JSON."""
    table = Table(title=title, title_justify="left")
    table.add_column("arXiv id", no_wrap=True)
    table.add_column("votes", justify="right", no_wrap=True)
    table.add_column("title", ratio=1)
    table.add_column("first seen", no_wrap=True)
    for p in papers:
        table.add_row(
            p.arxiv_id, str(p.upvotes), escape(p.title), p.first_seen_at.strftime("%Y-%m-%d")
        )
    return table


def paper_detail(paper: Paper, observations: Iterable[Observation]) -> Table:
    table = Table(show_header=False, title=escape(paper.title), title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    authors = ", ".join(paper.authors[:8]) + (
        f" +{paper.author_count - 8}" if paper.author_count > 8 else ""
    )
    rows = [
        ("arXiv", f"https://arxiv.org/abs/{paper.arxiv_id}"),
        ("Hugging Face", f"https://huggingface.co/papers/{paper.arxiv_id}"),
        ("upvotes", str(paper.upvotes)),
        ("authors", authors or "-"),
        ("organisation", paper.organization or "-"),
        ("published", when(paper.published_at)),
        ("on Daily Papers", when(paper.submitted_on_daily_at)),
        ("submitted by", paper.submitter or "-"),
        ("comments", "-" if paper.num_comments is None else str(paper.num_comments)),
        ("code", _code(paper)),
        ("project page", paper.project_page or "-"),
        ("AI keywords", ", ".join(paper.ai_keywords) or "-"),
        ("AI summary", paper.ai_summary or "-"),
        ("abstract", paper.summary or "-"),
        ("first seen", when(paper.first_seen_at)),
        (
            "seen in",
            "; ".join(
                f"{o.view} {o.period} (#{o.rank}, {plural(o.upvotes, 'upvote')})"
                for o in observations
            )
            or "-",
        ),
    ]
    for name, value in rows:
        table.add_row(name, escape(value))
    return table


def _code(paper: Paper) -> str:
    if not paper.github_repo:
        return "-"
    stars = f" ({plural(paper.github_stars, 'star')})" if paper.github_stars is not None else ""
    return paper.github_repo + stars


def fetches_table(fetches: Sequence[Fetch]) -> Table:
    """One line per fetch; the errors follow the table (fetch_errors), where a URL stays whole."""
    table = Table(title="Recent fetches", title_justify="left")
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("when (UTC)", no_wrap=True)
    table.add_column("list", overflow="ellipsis")
    table.add_column("verdict", no_wrap=True)
    table.add_column("via", no_wrap=True)
    table.add_column("papers", justify="right", no_wrap=True)
    for f in fetches:
        table.add_row(
            str(f.id),
            f.started_at.strftime("%m-%d %H:%M"),
            escape(f"{f.source} {f.period}"),
            verdict(f.verdict),
            f.path or "-",
            f"{f.paper_count} (+{f.new_papers})",
        )
    return table


def fetch_errors(fetches: Sequence[Fetch]) -> list[str]:
    """'fetch 8: why', one per fetch with an error, to print with soft_wrap (URLs unbroken)."""
    return [f"[dim]fetch {f.id}:[/] {escape(f.error)}" for f in fetches if f.error]


def deliveries_table(rows: Sequence[Delivery]) -> Table:
    """An address on one line (the column gives way first, and an address that cannot fit ends
    in …; --format json has it whole); the last errors follow the table (delivery_errors)."""
    table = Table(title="Deliveries", title_justify="left")
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("to", overflow="ellipsis")  # shortened with … only when it cannot fit
    table.add_column("period", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("tries", justify="right", no_wrap=True)
    table.add_column("next / sent", no_wrap=True)
    for d in rows:
        moment = d.sent_at or d.next_attempt_at
        table.add_row(
            str(d.id),
            escape(d.recipient),
            d.period,
            f"[{STATE_STYLE.get(d.state, 'white')}]{d.state}[/]",
            str(d.attempts),
            moment.strftime("%m-%d %H:%M") if moment else "-",
        )
    return table


def delivery_errors(rows: Sequence[Delivery]) -> list[str]:
    """'delivery 12: 451 try later', one per delivery whose last attempt failed."""
    return [f"[dim]delivery {d.id}:[/] {escape(d.last_error)}" for d in rows if d.last_error]
