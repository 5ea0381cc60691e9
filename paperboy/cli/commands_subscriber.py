"""`paperboy subscriber …`: add, list, show, set, pause, resume, remove, import, export."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from paperboy import subscribers as rules
from paperboy.cli.app import out, state, subscriber_app
from paperboy.cli.views import FORMAT, Format, as_json, plural, records, when
from paperboy.clock import system_clock
from paperboy.errors import InputError, PaperboyError
from paperboy.transfer import FileFormat, export, parse_import
from store.types import NewProfile, NewSubscriber, Subscriber, SubscriberSettings

_ZONE = typer.Option(None, "--zone", help="IANA time zone, e.g. Europe/London.")
_HOUR = typer.Option(None, "--hour", help="Local time to send at: 8, or 08:30.")
_FREQUENCY = typer.Option(None, "--frequency", help="daily, weekdays or weekly.")
_WEEKDAY = typer.Option(None, "--weekday", help="For weekly: mon, tue, … sun.")
_MAX = typer.Option(None, "--max-papers", help="At most this many papers per digest (1-100).")
_EMPTY = typer.Option(
    None, "--send-empty/--no-send-empty", help="Mail a short note when nothing matched."
)
_THUMBNAILS = typer.Option(
    None, "--thumbnails/--no-thumbnails", help="A small thumbnail beside each title (default on)."
)


@subscriber_app.command("add")
def add(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
    zone: str | None = _ZONE,
    hour: str | None = _HOUR,
    frequency: str | None = _FREQUENCY,
    weekday: str | None = _WEEKDAY,
    max_papers: int | None = _MAX,
    send_empty: bool | None = _EMPTY,
    thumbnails: bool | None = _THUMBNAILS,
    profile: list[str] = typer.Option(
        [], "--profile", help='A profile as NAME=QUERY, e.g. vision="diffusion OR video"; repeat.'
    ),
    pending: bool = typer.Option(False, "--pending", help="Add unconfirmed (default: active)."),
) -> None:
    """Add a subscriber (active at once, since an operator vouches for them)."""
    address = rules.normalise_email(email)
    settings = _merge(
        SubscriberSettings(), zone, hour, frequency, weekday, max_papers, send_empty, thumbnails
    )
    new = NewSubscriber(
        email=address,
        status=rules.Status.PENDING if pending else rules.Status.ACTIVE,
        settings=settings,
        profiles=tuple(_profile_option(p) for p in profile),
    )
    added = state(ctx).subscribers().add(new, system_clock())
    out.print(f"added {escape(added.email)} ({added.status}), {len(new.profiles)} profile(s).")


def _profile_option(text: str) -> NewProfile:
    name, sep, query = text.partition("=")
    if not sep:
        raise InputError(
            f"--profile {text!r} has no '='", hint='write --profile vision="diffusion OR video"'
        )
    return rules.profile(name, query)


def _merge(
    base: SubscriberSettings,
    zone: str | None,
    hour: str | None,
    frequency: str | None,
    weekday: str | None,
    max_papers: int | None,
    send_empty: bool | None,
    thumbnails: bool | None = None,
) -> SubscriberSettings:
    """Validated settings: what was given replaces what was there."""
    chosen = rules.settings(
        zone=base.time_zone if zone is None else zone,
        hour=f"{base.send_hour}:{base.send_minute:02d}" if hour is None else hour,
        every=base.frequency if frequency is None else frequency,
        day=rules.WEEKDAYS[base.weekday] if weekday is None else weekday,
        limit=base.max_papers if max_papers is None else max_papers,
        send_empty=base.send_empty if send_empty is None else send_empty,
    )
    return replace(chosen, thumbnails=base.thumbnails if thumbnails is None else thumbnails)


@subscriber_app.command("list")
def list_(
    ctx: typer.Context,
    status: rules.Status | None = typer.Option(None, "--status", help="Only this status."),
    format_: Format = FORMAT,
) -> None:
    """List subscribers with their schedule and number of profiles."""
    store = state(ctx).subscribers()
    profiles = store.all_profiles()
    found = store.list_subscribers(status)
    if format_ is Format.JSON:  # never the link key: it opens the subscriber's pages
        rows = [r | {"profiles": len(profiles.get(r["id"], []))} for r in records(found)]
        print(as_json([{k: v for k, v in r.items() if k != "link_key"} for r in rows]))
        return
    table = Table(title=plural(len(found), "subscriber"), title_justify="left")
    table.add_column("email", overflow="ellipsis")  # an address on one line
    for column in ("status", "schedule", "max", "profiles"):
        table.add_column(column)
    for s in found:
        table.add_row(
            escape(s.email),
            s.status,
            _schedule(s),
            str(s.max_papers),
            str(len(profiles.get(s.id, []))),
        )
    out.print(table)


def _schedule(s: Subscriber) -> str:
    day = f" on {rules.WEEKDAYS[s.weekday]}" if s.frequency == rules.Frequency.WEEKLY else ""
    return f"{s.frequency}{day} at {s.send_hour:02d}:{s.send_minute:02d} {s.time_zone}"


@subscriber_app.command("show")
def show(
    ctx: typer.Context, email: str = typer.Argument(..., help="The subscriber's address.")
) -> None:
    """Show one subscriber and their profiles."""
    store = state(ctx).subscribers()
    s = store.require(rules.normalise_email(email))
    table = Table(show_header=False, title=escape(s.email), title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in (
        ("status", s.status),
        ("schedule", _schedule(s)),
        ("max papers", str(s.max_papers)),
        ("send when empty", "yes" if s.send_empty else "no"),
        ("thumbnails", "small, beside each title" if s.thumbnails else "none"),
        ("created", when(s.created_at)),
        ("confirmed", when(s.confirmed_at)),
    ):
        table.add_row(name, value)
    for p in store.profiles(s.id):
        table.add_row(f"profile {escape(p.name)}", escape(p.query))
    out.print(table)


@subscriber_app.command("set")
def set_(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
    zone: str | None = _ZONE,
    hour: str | None = _HOUR,
    frequency: str | None = _FREQUENCY,
    weekday: str | None = _WEEKDAY,
    max_papers: int | None = _MAX,
    send_empty: bool | None = _EMPTY,
    thumbnails: bool | None = _THUMBNAILS,
) -> None:
    """Change a subscriber's zone, hour, frequency, weekday, maximum, empty-digest choice or
    thumbnails."""
    store = state(ctx).subscribers()
    s = store.require(rules.normalise_email(email))
    current = SubscriberSettings(
        s.time_zone,
        s.send_hour,
        s.frequency,
        s.weekday,
        s.max_papers,
        s.send_empty,
        s.send_minute,
        s.thumbnails,
    )
    changed = store.update_settings(
        s.email,
        _merge(current, zone, hour, frequency, weekday, max_papers, send_empty, thumbnails),
        system_clock(),
    )
    out.print(
        f"{escape(changed.email)}: {_schedule(changed)}, "
        f"at most {plural(changed.max_papers, 'paper')}."
    )


@subscriber_app.command("pause")
def pause(
    ctx: typer.Context, email: str = typer.Argument(..., help="The subscriber's address.")
) -> None:
    """Stop sending digests until `resume`."""
    _status(ctx, email, rules.Action.PAUSE)


@subscriber_app.command("resume")
def resume(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
    force: bool = typer.Option(False, "--force", help="Also for one who unsubscribed."),
) -> None:
    """Send digests again (an unsubscribed address only with --force: they asked us to stop)."""
    store = state(ctx).subscribers()
    s = store.require(rules.normalise_email(email))
    if s.status == rules.Status.UNSUBSCRIBED and not force:
        raise InputError(
            f"{s.email} unsubscribed; they asked not to be mailed",
            hint="they can sign up again, or use --force if they asked you in person",
        )
    _status(ctx, email, rules.Action.RESUME)


def _status(ctx: typer.Context, email: str, action: rules.Action) -> None:
    """Move a subscriber's status as the operator may (rules.transition)."""
    store = state(ctx).subscribers()
    address = rules.normalise_email(email)
    status = rules.transition(store.require(address).status, action, operator=True)
    changed = store.set_status(address, status, system_clock())
    out.print(f"{escape(changed.email)} is now {changed.status}.")


@subscriber_app.command("remove")
def remove(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
    forget: bool = typer.Option(False, "--forget", help="Erase them and their profiles for good."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before erasing."),
) -> None:
    """Unsubscribe (kept, so they are never mailed again), or erase with --forget."""
    store = state(ctx).subscribers()
    address = rules.normalise_email(email)
    store.require(address)
    if not forget:
        _status(ctx, address, rules.Action.UNSUBSCRIBE)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InputError(
                f"refusing to erase {address} without confirmation", hint="add --yes to erase"
            )
        typer.confirm(f"Erase {address} and all their profiles for good?", abort=True)
    store.forget(address)
    out.print(f"erased {escape(address)} and their profiles.")


@subscriber_app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A .csv or .json file."),
    fmt: str | None = typer.Option(None, "--format", help="csv or json (default: from the name)."),
) -> None:
    """Import subscribers and profiles; every row is checked first, one bad row imports nothing."""
    chosen = _format(fmt, file)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{file} is not UTF-8 text", hint="save it as UTF-8 and import it again"
        ) from e
    except OSError as e:
        raise InputError(f"cannot read {file}: {e.strerror or e}") from e
    new = parse_import(text, chosen)
    added = state(ctx).subscribers().add_many(new, system_clock())
    profiles = sum(len(n.profiles) for n in new)
    out.print(f"imported {plural(len(added), 'subscriber')} with {plural(profiles, 'profile')}.")


@subscriber_app.command("export")
def export_(
    ctx: typer.Context,
    fmt: str = typer.Option("csv", "--format", help="csv or json."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write here (default: stdout)."
    ),
) -> None:
    """Export every subscriber and profile, in the format `import` reads."""
    chosen = _format(fmt, None)
    store = state(ctx).subscribers()
    profiles = store.all_profiles()
    text = export(((s, profiles.get(s.id, [])) for s in store.list_subscribers()), chosen)
    if output is None:
        sys.stdout.write(text)
    else:
        _write_whole(output, text)
        out.print(f"wrote {escape(str(output))}.")


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a full disk never leaves half an export.

    A regular file is written beside and renamed over; a device or pipe (/dev/stdout) is
    written as it is, since renaming over it would replace it.
    """
    if path.is_dir():
        raise InputError(f"--output {path} is a folder", hint="name a file, e.g. -o people.csv")
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"--output {path}: {folder} {problem}", hint="create the folder first")
    data = text.encode("utf-8")
    try:
        if path.exists() and not path.is_file():
            with path.open("wb") as handle:
                handle.write(data)
            return
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", delete=False) as tmp:
            try:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            except BaseException:
                tmp.close()
                os.unlink(tmp.name)
                raise
        os.replace(tmp.name, path)
    except OSError as e:
        raise PaperboyError(
            f"cannot write {path}: {e.strerror or e}",
            hint="nothing was exported; free space or choose another --output",
        ) from e


def _format(fmt: str | None, file: Path | None) -> FileFormat:
    chosen = (fmt or (file.suffix.lstrip(".") if file else FileFormat.CSV)).lower()
    try:
        return FileFormat(chosen)
    except ValueError:
        raise InputError(
            f"unknown format {chosen!r}", hint="use --format csv or --format json"
        ) from None
