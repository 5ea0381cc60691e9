"""Settings, read once at the edge from PAPERBOY_* environment variables and an optional .env."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_path
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paperboy import __version__
from paperboy.errors import ConfigError
from paperboy.web.limits import parse_networks

ENV_PREFIX = "PAPERBOY_"


def default_data_dir() -> Path:
    """Where the SQLite file and the outbox live when nothing else is configured."""
    return user_data_path("paperboy", appauthor=False)


def _default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'paperboy.db'}"


def _default_outbox_dir() -> Path:
    return default_data_dir() / "outbox"


class Settings(BaseSettings):
    """Every knob Paperboy has; each is documented next to its default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # Storage. `sqlite:///path` (default: paperboy.db in the user's data directory, WAL mode)
    # or `postgresql+psycopg://user@host/db` when one machine is not enough.
    database_url: str = Field(default_factory=_default_database_url)

    # Scraping. The site (or a mirror / local replay server) and how politely we talk to it.
    hf_base_url: str = "https://huggingface.co"
    request_delay: float = Field(default=1.0, ge=0.0)  # seconds between requests to one host
    connect_timeout: float = Field(default=10.0, gt=0.0)  # seconds to open a connection
    read_timeout: float = Field(default=30.0, gt=0.0)  # seconds to wait for a response
    max_retries: int = Field(default=3, ge=0, le=10)  # retries on network errors and 5xx
    retry_after_cap: float = Field(default=120.0, ge=0.0)  # longest Retry-After we wait, seconds
    # What one answer may cost: bytes read, compressed and inflated (over it: the fetch is broken)
    max_response_bytes: int = Field(default=10_000_000, ge=100_000)
    request_deadline: float = Field(default=60.0, gt=0.0)  # seconds for a whole request
    contact_email: str = ""  # put in the User-Agent so Hugging Face can reach the operator
    user_agent: str = ""  # overrides the whole User-Agent header when set

    # Mail (digests arrive in issue 5; the settings exist so deploy files can name them).
    mail_transport: Literal["outbox", "smtp", "null"] = "outbox"
    outbox_dir: Path = Field(default_factory=_default_outbox_dir)  # .eml files land here
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_verify_tls: bool = True  # check the relay's certificate (turn off only for a local relay)
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
    digest_max_bytes: int = Field(default=95_000, ge=20_000)  # Gmail clips mail over 102 KB
    send_lease: float = Field(default=300.0, gt=0)  # seconds a sender holds a delivery

    # Operator alerts: mailed (through the mail transport) when fetching breaks.
    admin_email: str = ""  # empty: alerts are logged and shown by `paperboy status`, not mailed
    alert_after_broken: int = Field(default=3, ge=1)  # broken fetches of a list in a row
    alert_stale_hours: float = Field(default=24.0, gt=0)  # hours without a successful fetch

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        address = parseaddr(value)[1]
        if address.count("@") != 1 or any(c in value for c in "\r\n") or " " in address:
            raise ValueError('must be an address such as "Paperboy <digest@example.org>"')
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # ValueError naming the entry that is not an address
        return value

    @field_validator("hf_base_url", "public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    def http_user_agent(self) -> str:
        """The User-Agent we announce: who we are and how to reach the operator."""
        if self.user_agent:
            return self.user_agent
        contact = f"; contact: {self.contact_email}" if self.contact_email else ""
        return f"Paperboy/{__version__} (self-hosted papers digest{contact})"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; a bad value becomes a one-line ConfigError naming the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        first = e.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        value = first.get("input")
        shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
        raise ConfigError(f"{ENV_PREFIX}{field.upper()}", f"{first['msg']}{shown}") from e


def setting_names() -> list[str]:
    """Every environment variable Paperboy reads (the docs test checks the README names them)."""
    return [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]
