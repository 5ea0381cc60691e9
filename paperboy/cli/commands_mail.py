"""`paperboy send`, `paperboy digest preview`, `paperboy deliveries`: digests out the door."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from paperboy import subscribers as rules
from paperboy.cli.app import app, digest_app, err, out, state
from paperboy.cli.views import (
    FORMAT,
    DeliveryState,
    Format,
    as_json,
    deliveries_table,
    delivery_counts,
    delivery_errors,
    plural,
    records,
    refusal_lines,
    stop_lines,
    unconfirmed_lines,
)
from paperboy.clock import system_clock
from store.types import DigestKind, RunKind

if TYPE_CHECKING:  # the pipeline, the store and the templates load when a command runs
    from sqlalchemy.engine import Engine

    from paperboy.mailrun import Report
    from paperboy.settings import MailTransport
    from store.types import DigestRecord, Subscriber


@app.command()
def send(
    ctx: typer.Context,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show who is due and what they would get; send and record nothing."
    ),
    workers: int = typer.Option(4, "--workers", min=1, max=128, help="Concurrent connections."),
) -> None:
    """Compose the digests that are due now and deliver every pending one.

    Safe to run again at any time: a subscriber's period is composed once and sent once.
    Delivery goes to PAPERBOY_MAIL_TRANSPORT: the outbox folder (default), SMTP, or nowhere.
    """
    from paperboy import alerts
    from paperboy.service import dispatch_job
    from paperboy.signals import stop_on_signals
    from paperboy.wiring import build_dispatcher, transport_factory
    from store.health import HealthStore

    st = state(ctx)
    engine = st.engine()
    dispatcher = build_dispatcher(st.settings, engine)
    health = HealthStore(engine)
    # SIGTERM (a systemd stop) or Ctrl-C: the message in hand is finished, the rest given back.
    with stop_on_signals(dispatcher.stopping) as stop:
        report = dispatch_job(
            dispatcher,
            transport_factory(st.settings),
            workers=workers,
            dry_run=dry_run,
            relay=lambda delivered: alerts.delivery(health, delivered, system_clock()),
        )
    report = replace(report, kind=RunKind.SEND, signum=stop.signum)
    composed, delivered = report.composed, report.delivered
    if dry_run:
        _print_previews(composed)
        _print_unbuilt(composed)
        raise typer.Exit(report.exit_code)
    _print_report(composed, delivered, st.settings.mail_transport, str(st.settings.outbox_dir))
    for line in stop_lines(delivered, stop):
        err.print(line)
    if not stop.signum and composed.skipped_reason:
        err.print(f"[bold red]error:[/] digests not composed: {escape(composed.skipped_reason)}")
        err.print("[dim]hint:[/] fix fetching first; the digests will go out on the next run")
    elif not stop.signum:
        _print_unbuilt(composed)
        for problem in dict.fromkeys(delivered.errors):
            err.print(f"[bold red]error:[/] a sender stopped: {escape(problem)}")
    raise typer.Exit(report.exit_code)


def _print_unbuilt(report: Report) -> None:
    for problem in report.errors:
        err.print(f"[bold red]error:[/] {escape(problem)}")
    if report.errors:
        err.print(
            "[dim]hint:[/] everyone else was served; fix or remove what each line names "
            "(`paperboy profile edit|remove`, `paperboy subscriber remove`; `paperboy doctor` "
            "lists every unusable profile)"
        )


def _print_previews(report: Report) -> None:
    if report.skipped_reason:
        out.print(f"nothing would be composed: {escape(report.skipped_reason)}")
        return
    # The same counts as `send` prints: a digest with nothing to send is recorded, not mailed.
    title = (
        f"{plural(report.due, 'digest')} due (dry run: nothing sent): {report.composed} would "
        "be sent, "
        f"{report.empty} with nothing to send"
    )
    table = Table(title=title, title_justify="left")
    for column in ("to", "papers shown", "subject"):
        table.add_column(column)
    for email, subject, shown in report.previews:
        table.add_row(escape(email), str(shown), escape(subject))
    out.print(table)


def _print_report(
    composed: Report, delivered: Report, transport: MailTransport, outbox: str
) -> None:
    from paperboy.settings import MailTransport

    out.print(
        f"{composed.due} due, {composed.composed} composed, {composed.empty} with nothing to send; "
        f"{delivery_counts(delivered)}"
    )
    for line in unconfirmed_lines(delivered):
        err.print(line)
    if delivered.requeued or delivered.unknown:
        out.print(
            f"recovered from an earlier crash: {delivered.requeued} re-queued, "
            f"{delivered.unknown} unknown (may have been delivered; see `paperboy deliveries "
            "--state unknown`)"
        )
    for line in refusal_lines(delivered.refusals):
        err.print(line)
    if transport is MailTransport.OUTBOX and delivered.sent:
        out.print(f"the messages are .eml files in {escape(outbox)}")


@digest_app.command("preview")
def preview(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
    output: Path = typer.Option(
        Path("."), "--output", "-o", help="Folder for the files.", file_okay=False
    ),
) -> None:
    """Write the digest a subscriber would get now (HTML and text) to files; send nothing.

    The same decision as `send`: when nothing matched and the subscriber did not ask for a mail
    anyway, no files are written. "View in browser" and "and N more" lead to a third file that
    lists every matching paper (the archive page the real mail links to).
    """
    from paperboy.wiring import build_dispatcher

    st = state(ctx)
    subscriber = st.subscribers().require(rules.normalise_email(email))
    engine = st.engine()
    dispatcher = build_dispatcher(st.settings, engine)
    output.mkdir(parents=True, exist_ok=True)
    who = subscriber.email.replace("@", "_at_")
    full = output / f"digest-{who}-all-papers.html"
    record = dispatcher.preview(subscriber, archive_url=full.resolve().as_uri())
    held = dispatcher.stale_reason()
    if held:
        err.print(f"[yellow]note:[/] `send` would compose nothing now: {escape(held)}")
    if record.kind == DigestKind.SKIPPED:
        out.print(
            "no mail: no new paper matched and this subscriber does not get a mail when nothing "
            "matches (`send` sends nothing); no files written"
        )
        return
    stem = f"digest-{who}-{record.period}"
    html, text = output / f"{stem}.html", output / f"{stem}.txt"
    html.write_text(record.html, encoding="utf-8")
    text.write_text(record.text, encoding="utf-8")
    full.write_text(_all_papers_page(engine, subscriber, record), encoding="utf-8")
    out.print(
        f"{len(record.paper_ids)} matching papers, {record.shown} shown: {escape(record.subject)}"
    )
    for path in (html, text, full):
        out.print(str(path))


def _all_papers_page(engine: Engine, subscriber: Subscriber, record: DigestRecord) -> str:
    """The archive page of a digest not sent yet: every paper, grouped as the mail groups them."""
    from mailer.render import environment
    from paperboy.digest import archive_sections
    from paperboy.feedback import specs
    from store.feedback import FeedbackStore
    from store.repository import SqlStore
    from store.subscribers import SubscriberStore

    papers = SqlStore(engine).papers_by_id(record.paper_ids)
    profiles = specs(SubscriberStore(engine).profiles(subscriber.id), FeedbackStore(engine))
    return (
        environment()
        .get_template("web/archive.html.j2")
        .render(
            title=record.subject,
            subject=record.subject,
            sent=f"{record.created_at:%d %B %Y} (a preview: not sent)",
            count=len(papers),
            sections=archive_sections(papers, profiles),
        )
    )


@app.command()
def deliveries(
    ctx: typer.Context,
    limit: int = typer.Option(30, "--limit", min=1, max=10_000, help="At most this many."),
    state_: DeliveryState | None = typer.Option(None, "--state", help="Only this state."),
    format_: Format = FORMAT,
) -> None:
    """Recent deliveries from the ledger with their states, newest first."""
    from store.ledger import Ledger

    ledger = Ledger(state(ctx).engine())
    rows = ledger.deliveries(limit=limit, state=state_)
    if format_ is Format.JSON:
        print(as_json(records(rows)))
        return
    out.print(deliveries_table(rows))
    for line in delivery_errors(rows):
        out.print(line, soft_wrap=True)
    counts = ledger.counts()
    out.print(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no deliveries yet")
