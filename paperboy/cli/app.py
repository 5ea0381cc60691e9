"""The Typer application, its shared state, and the error boundary: messages, never tracebacks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import typer
from rich.console import Console
from sqlalchemy import Engine

from paperboy.runlog import configure_logging
from paperboy.settings import Settings, load_settings
from store.engine import open_engine
from store.repository import SqlStore
from store.subscribers import SubscriberStore

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

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@dataclass
class State:
    """Settings are read once, in the root callback; the database is opened on first use."""

    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_engine(self.settings.database_url)
        return self._engine

    def store(self) -> SqlStore:
        return SqlStore(self.engine())

    def subscribers(self) -> SubscriberStore:
        return SubscriberStore(self.engine())


@app.callback()
def root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each request and decision."),
) -> None:
    """Paperboy scrapes Hugging Face Papers into a database and mails keyword digests.

    Settings come from PAPERBOY_* environment variables or a .env file (see the README).
    """
    configure_logging(logging.INFO if verbose else logging.ERROR)  # the CLI reports itself
    ctx.obj = State(settings=load_settings())


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj
