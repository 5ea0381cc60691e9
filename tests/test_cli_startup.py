"""The CLI starts fast (issue 17; bench/cli_bench.py): a command that reads an up-to-date store
loads no Alembic (the database's revision is read with plain SQL and compared with HEAD, which
is the migration scripts' head); `--help` keeps Rich's panels without Rich's Markdown and
tracebacks; Typer's Pydantic coercion is built only for values that are present."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from paperboy.cli.hints import hint_for
from store.engine import (
    HEAD,
    current_revision,
    head_revision,
    make_engine,
    open_engine,
    scripts_head,
    upgrade,
)
from store.errors import SchemaNotCurrent
from tests.databases import migrated_engine

# Never loaded by a command that only reads the store.
NEVER = (
    *("alembic", "mako", "markdown_it", "pygments", "email_validator", "numpy", "onnxruntime"),
    *("fastapi", "starlette", "uvicorn", "apscheduler", "jinja2", "httpx", "rich._emoji_codes"),
    *("sqlmodel", "sqlalchemy.orm"),  # the tables are SQLAlchemy Core (store/tables.py)
)


def test_head_is_the_migration_scripts_head() -> None:
    """A new migration must move HEAD (store/engine.py) with it."""
    head = scripts_head()
    assert head == HEAD, f"a new migration: set store.engine.HEAD to {head!r}"
    assert head_revision() == HEAD


def test_the_revision_read_with_plain_sql_is_alembics(database_url: str) -> None:
    engine = make_engine(database_url)

    def alembics() -> str | None:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    try:
        assert current_revision(engine) is None
        assert alembics() is None
        upgrade(engine, "0001")
        assert current_revision(engine) == alembics() == "0001"
        upgrade(engine)
        assert current_revision(engine) == alembics() == HEAD
    finally:
        engine.dispose()


def test_an_older_schema_is_refused_as_data_with_the_hint_in_the_cli(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0001")
        with pytest.raises(SchemaNotCurrent) as refused:
            open_engine(database_url)
        assert (refused.value.current, refused.value.head) == ("0001", HEAD)
        assert (
            refused.value.message == f"the database is at schema 0001, this Paperboy needs {HEAD}"
        )
        assert "paperboy db upgrade" in hint_for(refused.value)
        assert current_revision(engine) == "0001"  # nothing was changed
    finally:
        engine.dispose()


def _run(code: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")} | {
        "PAPERBOY_SEMANTIC": "off",
        "COLUMNS": "100",
    }
    if url is not None:
        environment["PAPERBOY_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def _loaded_after(args: list[str], url: str, watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` running the CLI with ``args`` loaded, in a fresh interpreter."""
    code = (
        "import json, sys\nfrom paperboy.cli.main import main\n"
        f"code = main({args!r})\n"
        f"print(json.dumps([code, [m for m in {watched!r} if m in sys.modules]]))"
    )
    done = _run(code, url)
    code_, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert code_ == 0, done.stderr
    return list(loaded)


@pytest.mark.parametrize(
    "args", [["papers", "--limit", "5"], ["fetches", "--limit", "5"], ["status"], ["db", "current"]]
)
def test_reading_an_up_to_date_store_loads_no_migrations(
    args: list[str], database_url: str
) -> None:
    migrated_engine(database_url).dispose()
    assert _loaded_after(args, database_url, NEVER) == []


@pytest.mark.parametrize("args", [["send", "--dry-run"], ["deliveries"]])
def test_mail_commands_load_no_web_framework_nor_server(args: list[str], database_url: str) -> None:
    """The composition root imports the pages and uvicorn only for the commands that serve."""
    migrated_engine(database_url).dispose()
    watched = ("fastapi", "starlette", "uvicorn", "apscheduler", "alembic")
    assert _loaded_after(args, database_url, watched) == []


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["profile", "help"]])
def test_help_and_version_load_no_pydantic_nor_rich_markdown(
    args: list[str], tmp_path: Path
) -> None:
    watched = ("pydantic", "rich.markdown", "rich.traceback", "rich.syntax", "rich.pretty", "attr")
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert _loaded_after(args, url, watched) == []
    assert not (tmp_path / "none.db").exists()


def test_help_is_what_typer_renders_with_rich_markdown_loaded() -> None:
    """The stand-ins change what is imported, not what is printed."""
    for args in (["--help"], ["profile", "--help"], ["papers", "--help"]):
        show = f"from paperboy.cli.main import main\nmain({args!r})"
        lean = _run(show)
        full = _run(f"import rich.markdown, rich.traceback\n{show}")
        assert lean.returncode == full.returncode == 0
        assert "╭─ Options" in lean.stdout
        assert lean.stdout == full.stdout


def test_the_real_markdown_and_traceback_load_when_asked() -> None:
    code = (
        "import paperboy.cli.main, typer.rich_utils as r\n"
        "import rich.markdown, rich.traceback\n"
        "print(type(r.Markdown('*x*')).__module__, rich.markdown.Markdown.__module__,"
        " rich.traceback.Traceback.__module__)"
    )
    done = _run(code)
    assert done.stdout.split() == ["rich.markdown", "rich.markdown", "rich.traceback"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["fetches", "--limit", "nope"], "valid integer"),
        (["fetches", "--limit", "0"], "greater than or equal to 1"),
        (["fetches", "--verdict", "bogus"], "'bogus' is not one of"),
    ],
)
def test_present_values_are_still_checked(args: list[str], said: str, tmp_path: Path) -> None:
    done = _run(
        f"import sys\nfrom paperboy.cli.main import main\nsys.exit(main({args!r}))",
        f"sqlite:///{tmp_path / 'pb.db'}",
    )
    assert done.returncode == 2
    assert said in " ".join(done.stderr.replace("│", " ").split())


def test_stored_text_is_printed_as_written_not_as_emoji() -> None:
    from paperboy.cli.app import err, out

    for console in (out, err):
        with console.capture() as captured:
            console.print("Rockets :rocket: to :smile: the moon", markup=False)
            console.print("[bold]Rockets[/] :rocket:")
        assert captured.get() == "Rockets :rocket: to :smile: the moon\nRockets :rocket:\n"


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    """Reading the revision met it first, and only an OperationalError was expected (exit 70)."""
    (tmp_path / "pb.db").write_text("a shopping list, not a database\n" * 40)
    done = _run(
        "import sys\nfrom paperboy.cli.main import main\nsys.exit(main(['papers']))",
        f"sqlite:///{tmp_path / 'pb.db'}",
    )
    said = " ".join(done.stderr.split())
    assert done.returncode == 1, said
    assert "error: cannot use the database" in said
    assert "file is not a database" in said
    assert "is not a SQLite database, or a damaged one" in said


def test_a_database_a_newer_paperboy_migrated_is_refused_with_its_own_hint(tmp_path: Path) -> None:
    """It said `run paperboy db upgrade`, which then failed as an internal error (exit 70)."""
    url = f"sqlite:///{tmp_path / 'pb.db'}"
    engine = migrated_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    for args in (["papers"], ["db", "upgrade"], ["db", "current"]):
        done = _run(
            f"import sys\nfrom paperboy.cli.main import main\nsys.exit(main({args!r}))", url
        )
        said = " ".join(done.stderr.split() + done.stdout.split())
        assert done.returncode == 1, said
        if args == ["db", "current"]:
            assert f"database: 9999; this Paperboy: {HEAD} (migrated by a newer Paperboy" in said
        else:
            assert "the database is at schema 9999, which this Paperboy does not know" in said
            assert "a newer Paperboy (or another tool) migrated this database" in said
            assert "db upgrade" not in said
    engine = make_engine(url)
    assert current_revision(engine) == "9999"  # nothing was changed
    engine.dispose()
