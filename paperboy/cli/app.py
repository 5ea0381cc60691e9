"""The Typer application and its shared state.

Importing it (and the command modules) loads Typer and Rich, nothing heavier: the settings,
the database and the web server are imported by the commands that use them, so `--help`,
`--version` and `profile help` answer at once (issue 17; bench/cli_bench.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from paperboy import __version__
from paperboy.cli.startup import lighten

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from paperboy.settings import Settings
    from store.repository import SqlStore
    from store.subscribers import SubscriberStore

lighten()  # before the app is built: Typer loads Markdown, tracebacks, Pydantic only when used
app = typer.Typer(
    name="paperboy",
    help="Trending Hugging Face papers, matched to your keywords, in your inbox.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
db_app = typer.Typer(help="Database schema: see and apply migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
subscriber_app = typer.Typer(
    help="Subscribers: add, change, pause, remove, import, export.", no_args_is_help=True
)
app.add_typer(subscriber_app, name="subscriber")
profile_app = typer.Typer(
    help="Keyword profiles: add, edit, test before saving, remove.", no_args_is_help=True
)
app.add_typer(profile_app, name="profile")
digest_app = typer.Typer(help="Digests: preview what a subscriber would get.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")

# emoji=False: a stored title or message is printed as written (Rich would turn ":rocket:" in a
# paper's title into 🚀), and Rich's table of emoji codes is not loaded.
out = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)


@dataclass
class State:
    """Settings are read once, when a command first asks for them (a command that needs none,
    like `profile help`, neither reads nor checks them); the database is opened on first use."""

    verbose: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from paperboy.runlog import configure_logging
            from paperboy.settings import load_settings

            # the CLI reports itself: log lines only with --verbose (or an error)
            configure_logging(logging.INFO if self.verbose else logging.ERROR)
            self._settings = load_settings()
        return self._settings

    def engine(self) -> Engine:
        if self._engine is None:
            from store.engine import open_engine

            self._engine = open_engine(self.settings.database_url)
        return self._engine

    def store(self) -> SqlStore:
        from store.repository import SqlStore

        return SqlStore(self.engine())

    def subscribers(self) -> SubscriberStore:
        from store.subscribers import SubscriberStore

        return SubscriberStore(self.engine())


def _version(shown: bool) -> None:
    if shown:
        out.print(f"paperboy {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each request and decision."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Paperboy scrapes Hugging Face Papers into a database and mails keyword digests.

    Settings come from PAPERBOY_* environment variables or a .env file (see the README).
    """
    ctx.obj = State(verbose=verbose)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj
