"""Hostile settings and CLI inputs: each is one line naming what is wrong, exit 2, no traceback.

The CLI runs in this process (main() is the same error boundary the console script uses), in a
temporary working directory so no .env is picked up, on a temporary SQLite file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperboy.cli.main import main
from paperboy.settings import load_settings
from paperboy.tokens import load_secret
from tests.cli import restored_globals


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean environment: no PAPERBOY_* from outside, a data dir and a cwd of our own; what a
    test writes into os.environ, and the logging and signal handlers the CLI installs, are
    taken back afterwards (later tests must not see them)."""
    for name in list(os.environ):
        if name.startswith("PAPERBOY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", f"sqlite:///{tmp_path / 'pb.db'}")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("a file, not a folder\n")
    (tmp_path / "latin1").write_bytes("café au lait, not UTF-8\n".encode("latin-1"))
    saved = dict(os.environ)
    with restored_globals():
        yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def paperboy(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Exit code and stderr (whitespace collapsed: the console wraps long lines)."""
    code = main(list(args))
    return code, " ".join(capsys.readouterr().err.split())


HOSTILE_SETTINGS = [
    # durations and counts: finite, and within a sane range
    ("REQUEST_DELAY", "inf", "fetch"),
    ("REQUEST_DELAY", "1e300", "fetch"),
    ("CONNECT_TIMEOUT", "inf", "fetch"),
    ("CONNECT_TIMEOUT", "1e300", "fetch"),
    ("READ_TIMEOUT", "inf", "fetch"),
    ("READ_TIMEOUT", "-1", "fetch"),
    ("RETRY_AFTER_CAP", "inf", "fetch"),
    ("RETRY_AFTER_CAP", "nan", "fetch"),
    ("SEND_LEASE", "inf", "send"),
    ("SEND_LEASE", "1e300", "send"),
    ("ALERT_STALE_HOURS", "inf", "run-once"),
    ("ALERT_STALE_HOURS", "1e300", "run-once"),
    ("ALERT_AFTER_BROKEN", "9" * 30, "run-once"),
    ("DIGEST_MAX_BYTES", "9" * 30, "send"),
    ("MAX_RETRIES", "9" * 5000, "fetch"),
    # what goes into HTTP headers and URLs
    ("USER_AGENT", "Paperboy ☃", "fetch"),
    ("USER_AGENT", "Paperboy\x01", "fetch"),
    ("CONTACT_EMAIL", "jöe@example.org", "fetch"),
    ("HF_BASE_URL", "ftp://x", "fetch"),
    ("HF_BASE_URL", "http://", "fetch"),
    ("HF_BASE_URL", "http://exa mple.org", "fetch"),
    ("HF_BASE_URL", "http://[::1", "fetch"),
    ("HF_BASE_URL", "http://host:99999", "fetch"),
    ("HF_BASE_URL", "https://huggingface.co/?q=1#x", "fetch"),
    ("PUBLIC_URL", "http://", "send"),
    ("PUBLIC_URL", "https://a b.example", "send"),
    ("PUBLIC_URL", "javascript:alert(1)", "send"),
    # storage
    ("DATABASE_URL", "mysql://x/y", "papers"),
    ("DATABASE_URL", "sqlite:", "papers"),
    ("DATABASE_URL", "sqlite://", "papers"),
    ("DATABASE_URL", "sqlite:///", "papers"),
    ("DATABASE_URL", "sqlite:///:memory:", "papers"),
    ("DATABASE_URL", "postgresql+asyncpg://u@127.0.0.1/x", "papers"),
    ("DATABASE_URL", "postgresqlfoo://x", "papers"),
    ("DATABASE_URL", "sqlite+foo:///x.db", "papers"),
    # mail
    ("ADMIN_EMAIL", "not an address", "run-once"),
    ("ADMIN_EMAIL", "ops@example.org\r\nBcc: x@example.org", "run-once"),
    ("MAIL_FROM", "Paperboy <pb@exämple.org>", "send"),
    ("SMTP_HOST", "", "doctor"),
    ("SMTP_HOST", "mail example.org", "doctor"),
    ("WEB_HOST", "", "web"),
    # files and folders of the wrong kind
    ("OUTBOX_DIR", "{tmp}/file", "demo"),
    ("OUTBOX_DIR", "{tmp}/file/sub", "demo"),
    ("SECRET_KEY_FILE", "{tmp}/folder", "send"),
    ("SECRET_KEY_FILE", "{tmp}/file/key", "send"),
    ("SECRET_KEY_FILE", "{tmp}/latin1", "send"),
]


@pytest.mark.parametrize(("name", "value", "command"), HOSTILE_SETTINGS)
def test_a_hostile_setting_is_one_line_naming_it_and_exit_2(
    home: Path, capsys: pytest.CaptureFixture[str], name: str, value: str, command: str
) -> None:
    os.environ[f"PAPERBOY_{name}"] = value.replace("{tmp}", str(home))
    code, err = paperboy(capsys, command)
    assert code == 2, err
    assert err.startswith("error:"), err
    assert f"PAPERBOY_{name}" in err
    assert "internal error" not in err
    assert "Traceback" not in err
    assert len(err) < 600  # 5,000 nines are not echoed back
    assert not list(home.glob("data/paperboy/outbox/*.eml"))  # nothing was sent


def test_a_dotenv_that_is_not_utf8_is_named(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / ".env").write_bytes("PAPERBOY_CONTACT_EMAIL=ops@example.org # café\n".encode("cp1252"))
    code, err = paperboy(capsys, "papers")
    assert code == 2, err
    assert err.startswith(f"error: {home / '.env'}: is not UTF-8 text"), err
    assert not (home / "pb.db").exists()


def test_a_dotenv_that_is_a_folder_is_named(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / ".env").mkdir()
    code, err = paperboy(capsys, "papers")
    assert code == 2, err
    assert err.startswith(f"error: {home / '.env'}: is not a file"), err


def test_good_settings_still_load(home: Path) -> None:
    os.environ |= {
        "PAPERBOY_REQUEST_DELAY": "0",
        "PAPERBOY_HF_BASE_URL": "http://127.0.0.1:8123/",
        "PAPERBOY_PUBLIC_URL": "https://papers.example.org/digest",
        "PAPERBOY_USER_AGENT": "Paperboy/1 (+https://example.org; ops@example.org)",
        "PAPERBOY_DATABASE_URL": "postgresql+psycopg://paperboy@/paperboy",
        "PAPERBOY_MAIL_FROM": "Pàperboy <digest@example.org>",
        "PAPERBOY_ADMIN_EMAIL": "ops@example.org",
        "PAPERBOY_OUTBOX_DIR": str(home / "folder"),
        "PAPERBOY_SECRET_KEY_FILE": str(home / "new" / "key"),
    }
    settings = load_settings()
    assert settings.hf_base_url == "http://127.0.0.1:8123"
    assert settings.public_url == "https://papers.example.org/digest"


def test_load_secret_names_the_key_file_when_it_cannot_be_used(home: Path) -> None:
    from paperboy.errors import ConfigError

    for bad in (home / "folder", home / "file" / "key", home / "latin1"):
        with pytest.raises(ConfigError, match="PAPERBOY_SECRET_KEY_FILE"):
            load_secret("", bad)
    made = load_secret("", home / "new" / "key")
    assert load_secret("", home / "new" / "key") == made  # generated once, then reused


# CLI inputs: options and files a person passes.

ADD = ("subscriber", "add", "reader@example.org")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((*ADD, "--hour", "²"), "send time '²' is not an hour or HH:MM"),
        ((*ADD, "--hour", "①"), "send time '①' is not an hour or HH:MM"),
        ((*ADD, "--hour", "٣"), "send time '٣' is not an hour or HH:MM"),  # int() reads 3
        ((*ADD, "--hour", "8:²0"), "send time '8:²0' is not an hour or HH:MM"),
        ((*ADD, "--hour", "9" * 5000), "is not an hour or HH:MM"),
        ((*ADD, "--zone", "x" * 5000), "unknown time zone"),
        (("subscriber", "export", "-o", "folder"), "folder is a folder"),
        (("subscriber", "export", "-o", "missing/out.csv"), "missing does not exist"),
        (("subscriber", "export", "-o", "file/out.csv"), "file is not a folder"),
        (("subscriber", "import", "long.csv"), "line 2: a field is longer than"),
        (("subscriber", "import", "deep.json"), "nested too deeply"),
        (("subscriber", "import", "huge.json"), "not JSON Paperboy can read"),
        (("fetch", "--month", "٢٠٢٦-٠١"), "is not a month like 2026-07"),
        (("fetch", "--week", "٢٠٢٦-W٠١"), "is not an ISO week like 2026-W27"),
        (("papers", "--days", "99999999"), "--days"),
        (("papers", "--days", "9" * 30), "--days"),
        (("papers", "--min-upvotes", "9" * 30), "--min-upvotes"),
    ],
)
def test_a_hostile_cli_input_is_one_line_and_exit_2(
    home: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    (home / "long.csv").write_text('email,profile_name,profile_query\na@b.org,x,"' + "a" * 200_000)
    (home / "deep.json").write_text("[" * 100_000)
    (home / "huge.json").write_text('[{"email": "a@b.org", "max_papers": ' + "9" * 5000 + "}]")
    code, err = paperboy(capsys, *args)
    assert code == 2, err
    assert err.startswith(("error:", "Usage:")), err  # ours, or Typer's usage error
    assert message in err, err
    assert "internal error" not in err
    assert len(err) < 600
    assert not (home / "missing").exists()
    if (home / "pb.db").exists():  # nothing was written
        with sqlite3.connect(home / "pb.db") as db:
            assert db.execute("select count(*) from subscribers").fetchone() == (0,)


def test_export_to_a_full_disk_is_a_runtime_error_and_leaves_no_half_file(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert paperboy(capsys, *ADD)[0] == 0
    code, err = paperboy(capsys, "subscriber", "export", "-o", "/dev/full")
    assert code == 1, err
    assert err.startswith("error: cannot write /dev/full: No space left on device"), err


def test_export_replaces_the_file_whole(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / "out.csv").write_text("an older export\n")
    assert paperboy(capsys, *ADD)[0] == 0
    code, err = paperboy(capsys, "subscriber", "export", "-o", "out.csv")
    assert code == 0, err
    assert (home / "out.csv").read_text().startswith("email,status,")
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(".out")) == []


@pytest.mark.parametrize(
    "url", ["postgresqlfoo://x/y", "postgresql+asyncpg://u@127.0.0.1/x", "mysql://u@h/x"]
)
def test_make_engine_names_the_setting_for_a_driver_paperboy_lacks(url: str) -> None:
    """The benchmarks and tests call the engine directly, past the settings' check."""
    from paperboy.errors import ConfigError
    from store.engine import make_engine

    with pytest.raises(ConfigError, match="PAPERBOY_DATABASE_URL") as info:
        make_engine(url)
    assert info.value.exit_code == 2
