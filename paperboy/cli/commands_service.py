"""`paperboy serve`, `paperboy run-once` (for cron or a timer) and `paperboy doctor`."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from paperboy.cli.app import State, app, err, out, state
from paperboy.cli.views import (
    delivery_counts,
    plural,
    refusal_lines,
    reports_table,
    stop_lines,
    unconfirmed_lines,
)
from paperboy.clock import system_clock
from store.types import RunKind

if TYPE_CHECKING:  # the server, the scheduler and the pipeline load when a command runs
    import uvicorn
    from sqlalchemy import Engine

    from paperboy.service import JobReport
    from paperboy.signals import Stop

log = logging.getLogger(__name__)


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
    from paperboy import alerts, runlog
    from paperboy.lock import single_instance
    from paperboy.service import run_once as run
    from paperboy.signals import stop_on_signals
    from paperboy.wiring import alert_config, build_dispatcher, build_ingestor, transport_factory
    from store.health import HealthStore

    st = state(ctx)
    engine = st.engine()
    health = HealthStore(engine)
    transports = transport_factory(st.settings)
    dispatcher = build_dispatcher(st.settings, engine)
    with (
        single_instance(engine, wait=wait),
        runlog.run(RunKind.RUN_ONCE, health, system_clock) as counters,
        # SIGTERM (a systemd stop): the fetch stops between lists, the delivery after the
        # message in hand; what was not sent waits for the next run.
        stop_on_signals(dispatcher.stopping) as stop,
    ):
        ingestor, client = build_ingestor(st.settings, st.store())
        with client:
            report = run(
                store=st.store(),
                ingestor=ingestor,
                dispatcher=dispatcher,
                transports=transports,
                now=system_clock(),
                queries=_queries(st),
                feed=st.settings.feed_url is not None,
                workers=workers,
                watch=lambda: alerts.check(
                    st.store(), health, transports, alert_config(st.settings), system_clock()
                ),
                relay=lambda delivered: alerts.delivery(health, delivered, system_clock()),
            )
        report = replace(report, signum=stop.signum)
        counters.update(report.counters)
    out.print(reports_table(report.fetched))
    out.print(f"{plural(report.new_papers, 'new paper')}; {dispatch_counts(report)}")
    print_problems(report, stop)
    raise typer.Exit(report.exit_code)


def dispatch_counts(report: JobReport) -> str:
    """What a dispatch did, as `run-once` prints it and `serve` logs it."""
    c = report.composed
    return (
        f"{plural(c.due, 'digest')} due, {c.composed} composed; {delivery_counts(report.delivered)}"
    )


def print_problems(report: JobReport, stop: Stop) -> None:
    """The warnings and errors of a run, the way `run-once` says them."""
    for line in unconfirmed_lines(report.delivered):
        err.print(line)
    for line in refusal_lines(report.delivered.refusals):
        err.print(line)
    for problem in report.problems:
        err.print(f"[bold red]error:[/] {escape(problem)}")
    for line in stop_lines(report.delivered, stop):
        err.print(line)


def _web_server(st: State, engine: Engine) -> uvicorn.Server:
    import uvicorn

    from paperboy.wiring import build_web, server_config

    config = server_config(
        build_web(st.settings, engine), st.settings.web_host, st.settings.web_port
    )
    out.print(f"web pages on http://{st.settings.web_host}:{st.settings.web_port}")
    return uvicorn.Server(config)


def _start_web(st: State, engine: Engine) -> tuple[uvicorn.Server, threading.Thread]:
    """The web pages in a thread beside the scheduler (one process, one lock)."""
    server = _web_server(st, engine)
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    return server, thread


@app.command()
def web(ctx: typer.Context) -> None:
    """Serve only the web pages (sign-up, manage, unsubscribe, archive, feeds) on
    PAPERBOY_WEB_HOST:PORT until SIGTERM: for a deployment that fetches and sends with
    `run-once` from a timer or cron. Takes no lock; `paperboy serve` already includes them."""
    st = state(ctx)
    _web_server(st, st.engine()).run()


def _queries(st: State) -> list[str]:
    return [profile.query for _, profile in st.subscribers().active_profiles()]


@app.command()
def status(
    ctx: typer.Context,
    limit: int = typer.Option(10, "--limit", min=1, max=1000, help="Show this many runs."),
) -> None:
    """The heartbeat: recent unattended runs with their counters, and open alerts."""
    from store.health import HealthStore

    health = HealthStore(state(ctx).engine())
    runs = health.runs(limit)
    table = Table(title="Recent runs", title_justify="left")
    for column in ("run", "kind", "started (UTC)", "seconds", "counters"):
        table.add_column(column, overflow="fold")
    for r in runs:
        seconds = (r.finished_at - r.started_at).total_seconds()
        counters = ", ".join(f"{k} {v}" for k, v in r.counters.items())
        table.add_row(
            r.run_id, r.kind, f"{r.started_at:%Y-%m-%d %H:%M}", f"{seconds:.1f}", counters
        )
    out.print(table)
    if runs:
        age = system_clock() - runs[0].finished_at
        out.print(f"last run finished {age.total_seconds() / 60:.0f} minutes ago")
    else:
        out.print("no unattended run yet: start `paperboy serve` or a `paperboy run-once` timer")
    for alert in health.open_alerts():
        mailed = "mailed" if alert.mailed_at else "not mailed"
        since = f"{alert.opened_at:%Y-%m-%d %H:%M}"
        out.print(f"[bold red]open alert[/] since {since}: {escape(alert.message)} ({mailed})")


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check settings, database, mail, the site, recent fetches and deliveries; change nothing.

    Exits 1 when something is wrong (a FAIL line); warnings alone exit 0.
    """
    from paperboy.doctor import Level, run_checks
    from store.engine import make_engine

    st = state(ctx)
    engine = make_engine(st.settings.database_url)
    checks = run_checks(st.settings, engine, system_clock())
    table = Table(title="paperboy doctor", title_justify="left")
    for column in ("check", "verdict", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        style = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "bold red"}[check.status]
        table.add_row(check.name, f"[{style}]{check.status.upper()}[/]", escape(check.detail))
    out.print(table)
    failed = [c for c in checks if c.status is Level.FAIL]
    if failed:
        names = ", ".join(c.name for c in failed)
        err.print(f"[bold red]error:[/] {len(failed)} check(s) failed: {names}")
        raise typer.Exit(1)


@app.command()
def serve(
    ctx: typer.Context,
    fetch_every: float = typer.Option(
        3600, "--fetch-every", min=5, help="Seconds between fetches."
    ),
    dispatch_every: float = typer.Option(
        300, "--dispatch-every", min=1, help="Seconds between checks for digests that are due."
    ),
    workers: int = typer.Option(
        4, "--workers", min=1, max=128, help="Concurrent SMTP connections."
    ),
    web: bool = typer.Option(
        True, "--web/--no-web", help="Also serve the web pages on PAPERBOY_WEB_HOST:PORT."
    ),
) -> None:
    """Run unattended: fetch every hour (the week's and month's lists and the profiles' searches
    once a day), send the digests that are due every few minutes, and serve the web pages, until
    SIGTERM. One per store: a second one exits 75."""
    from paperboy import alerts, runlog
    from paperboy.lock import single_instance
    from paperboy.scheduler import build_scheduler
    from paperboy.scheduler import stop_on_signals as stop_serving_on_signals
    from paperboy.service import dispatch_job, fetch_job, fetch_plan
    from paperboy.wiring import alert_config, build_dispatcher, build_ingestor, transport_factory
    from store.health import HealthStore

    st = state(ctx)
    engine = st.engine()
    with single_instance(engine):
        ingestor, client = build_ingestor(st.settings, st.store())
        dispatcher = build_dispatcher(st.settings, engine)
        transports = transport_factory(st.settings)
        health = HealthStore(engine)

        config = alert_config(st.settings)

        def fetch() -> None:
            with runlog.run(RunKind.FETCH, health, system_clock) as counters:
                report = fetch_job(
                    ingestor,
                    fetch_plan(
                        st.store(),
                        system_clock(),
                        _queries(st),
                        feed=st.settings.feed_url is not None,
                    ),
                    stopping=dispatcher.stopping,
                    watch=lambda: alerts.check(
                        st.store(), health, transports, config, system_clock()
                    ),
                )
                counters.update(report.counters)

        def dispatch() -> None:
            with runlog.run(RunKind.DISPATCH, health, system_clock) as counters:
                report = dispatch_job(
                    dispatcher,
                    transports,
                    workers=workers,
                    relay=lambda delivered: alerts.delivery(health, delivered, system_clock()),
                )
                counters.update(report.counters)
                log.info("dispatch: %s", dispatch_counts(report))
                for problem in dict.fromkeys(report.delivered.errors):  # compose logs its own
                    log.error("a sender stopped: %s", problem)

        scheduler = build_scheduler(
            fetch=fetch, dispatch=dispatch, fetch_every=fetch_every, dispatch_every=dispatch_every
        )
        stop_serving_on_signals(scheduler, dispatcher.stopping)
        out.print(
            f"serving: fetch every {fetch_every:.0f} s, dispatch every {dispatch_every:.0f} s"
        )
        pages = _start_web(st, engine) if web else None
        with client:
            scheduler.start()
        if pages is not None:
            # Wait for the pages to stop: their shutdown sends the page mails due now.
            pages[0].should_exit = True
            pages[1].join(timeout=15)
    out.print("stopped.")
