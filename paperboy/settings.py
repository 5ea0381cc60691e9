"""Settings, read once at the edge from PAPERBOY_* environment variables and an optional .env."""

from __future__ import annotations

from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from platformdirs import user_data_path
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from paperboy import __version__
from paperboy.errors import ConfigError, PaperboyError
from paperboy.web.limits import parse_networks
from scraper.sources import feed_origin

ENV_PREFIX = "PAPERBOY_"
ALERT_STALE_HOURS = 24.0  # alert when no fetch succeeded for this long (the default below)


def default_data_dir() -> Path:
    """Where the SQLite file and the outbox live when nothing else is configured."""
    return user_data_path("paperboy", appauthor=False)


def _default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'paperboy.db'}"


def _default_outbox_dir() -> Path:
    return default_data_dir() / "outbox"


class MailTransport(StrEnum):
    """PAPERBOY_MAIL_TRANSPORT: how digests and alerts leave (paperboy.wiring builds it)."""

    OUTBOX = "outbox"  # .eml files in outbox_dir
    SMTP = "smtp"  # a relay
    NULL = "null"  # discarded (a dry run; the ledger still records them as sent)


class Settings(BaseSettings):
    """Every knob Paperboy has; each is documented next to its default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        allow_inf_nan=False,  # `inf` seconds overflow timedelta and time_t far from here
    )

    # Storage. `sqlite:///path` (default: paperboy.db in the user's data directory, WAL mode)
    # or `postgresql+psycopg://user@host/db` when one machine is not enough.
    database_url: str = Field(default_factory=_default_database_url)

    # Scraping. The site (or a mirror / local replay server) and how politely we talk to it.
    hf_base_url: str = "https://huggingface.co"
    # A third-party RSS feed of Hugging Face's papers, fetched every run beside the site (its
    # papers are filed under the `feed` view); unset: none.
    feed_url: str | None = None
    # Seconds between requests to one host. Durations and counts are finite and have a ceiling
    # (a typo like 1e300 would overflow a timedelta or a timestamp far from here).
    request_delay: float = Field(default=1.0, ge=0.0, le=3600)
    connect_timeout: float = Field(default=10.0, gt=0.0, le=3600)  # seconds to open a connection
    read_timeout: float = Field(default=30.0, gt=0.0, le=3600)  # seconds to wait for a response
    # Retries on network errors, 5xx, and 429/503 with a Retry-After up to retry_after_cap.
    max_retries: int = Field(default=3, ge=0, le=10)
    # The longest Retry-After we wait, seconds.
    retry_after_cap: float = Field(default=120.0, ge=0.0, le=86400)
    # What one answer may cost: bytes read, compressed and inflated (over it: the fetch is broken)
    max_response_bytes: int = Field(default=10_000_000, ge=100_000, le=1_000_000_000)
    request_deadline: float = Field(default=60.0, gt=0.0, le=3600)  # seconds for a whole request
    contact_email: str = ""  # put in the User-Agent so Hugging Face can reach the operator
    user_agent: str = ""  # overrides the whole User-Agent header when set

    # Mail: how digests and alerts leave (outbox: .eml files in outbox_dir; smtp: a relay;
    # null: discarded, for a dry run, though the ledger still records them as sent).
    mail_transport: MailTransport = MailTransport.OUTBOX
    outbox_dir: Path = Field(default_factory=_default_outbox_dir)  # .eml files land here
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_verify_tls: bool = True  # check the relay's certificate (turn off only for a local relay)
    # Seconds to wait at each SMTP step; the defaults are RFC 5321 4.5.3.2's. The reply to the
    # final "." waits longest: a message whose reply never came may have been delivered, and
    # is then `unknown`, never sent again.
    smtp_timeout_connect: float = Field(default=30.0, gt=0, le=3600)  # TCP and TLS handshake
    smtp_timeout_greeting: float = Field(default=300.0, gt=0, le=3600)  # the server's 220
    smtp_timeout_command: float = Field(default=300.0, gt=0, le=3600)  # EHLO, AUTH, MAIL, RCPT
    smtp_timeout_data_start: float = Field(default=120.0, gt=0, le=3600)  # the 354 to DATA
    smtp_timeout_data_block: float = Field(default=180.0, gt=0, le=3600)  # writing the message
    smtp_timeout_data_end: float = Field(default=600.0, gt=0, le=3600)  # the reply to the "."
    mail_from: str = "Paperboy <paperboy@localhost>"

    # Web pages and links in emails.
    public_url: str = "http://127.0.0.1:8000"
    web_host: str = "127.0.0.1"  # where `paperboy serve` listens (put a TLS proxy in front)
    web_port: int = Field(default=8000, ge=1, le=65535)
    # The reverse proxies in front (comma-separated IPs or CIDRs, e.g. "127.0.0.1, ::1"): only
    # from these are X-Forwarded-For (the client's address, for rate limits) and
    # X-Forwarded-Proto believed. Empty: the peer's own address counts, whatever headers say.
    trusted_proxies: str = ""
    secret_key: SecretStr = SecretStr("")  # signs tokens; if empty, generated into secret_key_file
    secret_key_file: Path = Field(default_factory=lambda: default_data_dir() / "secret_key")
    # Digests. Bytes of a digest's HTML and text together: papers beyond it are left to the
    # archive link (Gmail clips mail over 102 KB).
    digest_max_bytes: int = Field(default=95_000, ge=20_000, le=10_000_000)
    # Seconds a sender holds a delivery: longer than one message may take on a slow relay (the
    # DATA, message and final-reply timeouts), or a delivered message whose sender still waits
    # for the reply is taken over and shown `unknown` (never sent twice either way).
    send_lease: float = Field(default=960.0, gt=0, le=86400)
    # Days a digest (and its delivery) is kept; each subscriber's latest, and one still waiting
    # to be sent, is kept whatever its age.
    digest_retention_days: int = Field(default=365, ge=1, le=36500)

    # Operator alerts: mailed (through the mail transport) when fetching breaks.
    admin_email: str = ""  # empty: alerts are logged and shown by `paperboy status`, not mailed
    alert_after_broken: int = Field(default=3, ge=1, le=1000)  # broken fetches of a list in a row
    # Hours without a successful fetch.
    alert_stale_hours: float = Field(default=ALERT_STALE_HOURS, gt=0, le=8760)

    # Matching by meaning (about:, like:). "off" uses lexical similarity instead of the model.
    semantic: Literal["on", "off"] = "on"
    # Another copy of the model: a folder holding model.onnx (and vocab.txt), or the .onnx
    # file. Its sha256 must still be the packaged model's; empty: the installed package's.
    model_path: Path | None = None
    model_threads: int = Field(default=1, ge=1, le=64)  # CPU threads the model may use

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        # A NUL, CR/LF or a lone surrogate (a non-UTF-8 environment) breaks headers, paths and
        # encoders far from here; no setting has a use for one.
        if isinstance(value, str | SecretStr | Path):
            text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            if any(not c.isprintable() and c != " " for c in text):
                raise ValueError("contains a control character or a byte that is not UTF-8")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        return _database_url(value)

    @field_validator("mail_from")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        address = parseaddr(value)[1]
        if not _is_address(address) or any(c in value for c in "\r\n"):
            raise ValueError('must be an address such as "Paperboy <digest@example.org>"')
        return value

    @field_validator("admin_email")
    @classmethod
    def _bare_address(cls, value: str) -> str:
        if value and not _is_address(value):
            raise ValueError("must be empty or one ASCII address such as ops@example.org")
        return value

    @field_validator("user_agent", "contact_email", "smtp_host", "web_host")
    @classmethod
    def _header_text(cls, value: str, info: ValidationInfo) -> str:
        # They go into HTTP and SMTP lines, which are ASCII; hosts have no spaces (and an
        # international name is written in its xn-- form).
        if not value.isascii() or len(value) > 512:
            raise ValueError("must be ASCII (at most 512 characters)")
        if info.field_name in ("smtp_host", "web_host") and (not value or " " in value):
            raise ValueError("must be a host name or an IP address, without spaces")
        return value

    @field_validator("outbox_dir")
    @classmethod
    def _folder(cls, value: Path) -> Path:
        return _usable_path(value, folder=True)

    @field_validator("secret_key_file")
    @classmethod
    def _file(cls, value: Path) -> Path:
        return _usable_path(value, folder=False)

    @field_validator("model_path", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("feed_url")
    @classmethod
    def _feed_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        feed_origin(value)  # ValueError saying what is wrong with it
        return value.strip()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # ValueError naming the entry that is not an address
        return value

    @field_validator("hf_base_url", "public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _http_url(value)

    def http_user_agent(self) -> str:
        """The User-Agent we announce: who we are and how to reach the operator."""
        if self.user_agent:
            return self.user_agent
        contact = f"; contact: {self.contact_email}" if self.contact_email else ""
        return f"Paperboy/{__version__} (self-hosted papers digest{contact})"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; a bad value becomes a one-line ConfigError naming the setting."""
    dotenv = Path(str(Settings.model_config.get("env_file") or ".env")).absolute()
    if dotenv.exists() and not dotenv.is_file():
        raise EnvFileError(dotenv, "is not a file")
    try:
        return Settings(**overrides)
    except ValidationError as e:
        first = e.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        value = first.get("input")
        secret = field in ("smtp_password", "secret_key")
        shown = (
            f" (got {_cut(value)})" if isinstance(value, str | int | float) and not secret else ""
        )
        raise ConfigError(f"{ENV_PREFIX}{field.upper()}", f"{first['msg']}{shown}") from e
    except UnicodeDecodeError as e:  # pydantic-settings reads .env as UTF-8
        raise EnvFileError(dotenv, f"is not UTF-8 text (byte {e.object[e.start]:#x})") from e
    except OSError as e:
        raise EnvFileError(dotenv, f"cannot be read: {e.strerror}") from e


class EnvFileError(ConfigError):
    """The .env file is there but cannot be read as settings."""

    def __init__(self, path: Path, problem: str) -> None:
        self.setting = ".env"
        self.problem = problem
        PaperboyError.__init__(
            self,
            f"{path}: {problem}",
            hint="save it as UTF-8 text with one PAPERBOY_NAME=value a line, or remove it",
        )


def _cut(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut short: 5,000 nines are not echoed back in full."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _is_address(address: str) -> bool:
    """One plain ASCII address: what SMTP without SMTPUTF8 carries in MAIL FROM and headers."""
    local, at, domain = address.partition("@")
    return (
        bool(local and at and domain)
        and address.isascii()
        and "@" not in domain
        and not any(c in address for c in ' <>,;"\\')
    )


def _http_url(value: str) -> str:
    """An http(s) URL with a host and no query, fragment or user name; no trailing slash."""
    problem = "must be an http:// or https:// URL with a host, e.g. https://papers.example.org"
    if not value.isascii() or " " in value:
        raise ValueError(f"{problem} (ASCII, no spaces: write an international name as xn--)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError when the port is out of range)
    except ValueError as e:
        raise ValueError(f"{problem} ({e})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(problem)
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{problem}, without a query, a fragment or a user name")
    return value.rstrip("/")


# The stores Paperboy runs on, by SQLAlchemy driver name (a bare postgresql:// means psycopg2 on
# SQLAlchemy 2.0, which Paperboy does not install).
_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")


def _database_url(value: str) -> str:
    """SQLite with a file, or PostgreSQL through psycopg 3: the two stores Paperboy runs on."""
    usage = "must be sqlite:///path/to/paperboy.db or postgresql+psycopg://user@host/db"
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise ValueError(usage) from None
    if url.drivername not in _DRIVERS:
        raise ValueError(f"{usage} (Paperboy has no driver for {url.drivername!r})")
    if url.drivername.startswith("sqlite") and url.database in (None, "", ":memory:"):
        raise ValueError(f"{usage} (an in-memory SQLite database would lose everything)")
    return value


def _usable_path(path: Path, *, folder: bool) -> Path:
    """Refuse a file where a folder is wanted and the other way round, before anything runs."""
    if path.exists() and path.is_dir() != folder:
        raise ValueError(
            f"{path} is a {'file' if folder else 'folder'}, not a {'folder' if folder else 'file'}"
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{parent} is a file, not a folder")
            break
    return path


def setting_names() -> list[str]:
    """Every environment variable Paperboy reads (the docs test checks the README names them)."""
    return [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]
