"""`paperboy run-once`: one unattended run (for cron or a systemd timer)."""

from __future__ import annotations

import typer
from rich.markup import escape

from paperboy.cli.app import app, err, out, state
from paperboy.cli.views import reports_table
from paperboy.clock import system_clock
from paperboy.lock import single_instance
from paperboy.service import run_once as run
from paperboy.wiring import build_dispatcher, build_ingestor, transport_factory


@app.command("run-once")
def run_once(
    ctx: typer.Context,
    wait: float = typer.Option(
        0.0, "--wait", min=0.0, help="Wait this many seconds if another Paperboy is running."
    ),
    workers: int = typer.Option(
        4, "--workers", min=1, max=128, help="Concurrent SMTP connections."
    ),
) -> None:
    """Fetch today's and trending lists (and the week's and month's once a day), then compose
    and deliver the digests that are due. Exits non-zero if a fetch was broken or mail failed;
    exits 75 at once if another Paperboy holds the store."""
    st = state(ctx)
    engine = st.engine()
    with single_instance(engine, wait=wait):
        ingestor, client = build_ingestor(st.settings, st.store())
        with client:
            report = run(
                store=st.store(),
                ingestor=ingestor,
                dispatcher=build_dispatcher(st.settings, engine),
                transports=transport_factory(st.settings),
                now=system_clock(),
                workers=workers,
            )
    out.print(reports_table(report.fetched))
    c, d = report.composed, report.delivered
    out.print(
        f"{report.new_papers} new papers; {c.due} digests due, {c.composed} composed; "
        f"{d.sent} sent, {d.retrying} to retry, {d.failed} failed, {d.bounced} bounced"
    )
    problems = [f"{r.label}: {r.outcome.error or 'broken'}" for r in report.broken]
    if c.skipped_reason:
        problems.append(f"digests not composed: {c.skipped_reason}")
    problems += [f"a sender stopped: {e}" for e in dict.fromkeys(d.errors)]
    for problem in problems:
        err.print(f"[bold red]error:[/] {escape(problem)}")
    if problems or d.failed or d.bounced:
        raise typer.Exit(1)
