"""Rich renderings of reports, papers and fetches: the CLI's only presentation code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from rich.markup import escape
from rich.table import Table

from paperboy.dispatch import Report
from paperboy.ingest import IngestReport
from paperboy.signals import Stop
from store.types import Fetch, Observation, Paper

VERDICT_STYLE = {"ok": "green", "empty": "yellow", "not_modified": "cyan", "broken": "bold red"}


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
    table = Table(title=title, title_justify="left")
    table.add_column("arXiv id", no_wrap=True)
    table.add_column("upvotes", justify="right")
    table.add_column("title")
    table.add_column("authors", justify="right")
    table.add_column("first seen", no_wrap=True)
    for p in papers:
        table.add_row(
            p.arxiv_id,
            str(p.upvotes),
            escape(p.title),
            str(p.author_count),
            when(p.first_seen_at),
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
            "; ".join(f"{o.view} {o.period} (#{o.rank}, {o.upvotes} upvotes)" for o in observations)
            or "-",
        ),
    ]
    for name, value in rows:
        table.add_row(name, escape(value))
    return table


def _code(paper: Paper) -> str:
    if not paper.github_repo:
        return "-"
    stars = f" ({paper.github_stars} stars)" if paper.github_stars is not None else ""
    return paper.github_repo + stars


def fetches_table(fetches: Iterable[Fetch]) -> Table:
    table = Table(title="Recent fetches", title_justify="left")
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("when (UTC)", no_wrap=True)
    table.add_column("list", max_width=28, overflow="ellipsis")
    table.add_column("verdict", no_wrap=True)
    table.add_column("via", no_wrap=True)
    table.add_column("papers", justify="right", no_wrap=True)
    table.add_column("error", ratio=1, overflow="fold")
    for f in fetches:
        table.add_row(
            str(f.id),
            f.started_at.strftime("%m-%d %H:%M"),
            escape(f"{f.source} {f.period}"),
            verdict(f.verdict),
            f.path or "-",
            f"{f.paper_count} (+{f.new_papers})",
            escape(f.error or ""),
        )
    return table
