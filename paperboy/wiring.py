"""The composition root: turns Settings into the objects commands use; nothing else reads them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import Engine

from mailer.smtp import Security, SmtpConfig, SmtpTimeouts, SmtpTransport
from mailer.transports import NullTransport, OutboxTransport, Transport
from paperboy.alerts import AlertConfig
from paperboy.clock import Clock, system_clock
from paperboy.dispatch import Dispatcher, MailConfig
from paperboy.ingest import Ingestor
from paperboy.semantic import runtime
from paperboy.settings import MailTransport, Settings
from paperboy.tokens import Tokens, load_secret
from scraper.feed import FeedFetcher, Sources
from scraper.fetch import Fetcher, HuggingFaceFetcher
from scraper.http import (
    HUGGING_FACE,
    ClientConfig,
    Limits,
    PoliteHttp,
    Politeness,
    build_client,
    same_origin,
)
from scraper.robots import RobotsGate
from store.ledger import Ledger
from store.repository import SqlStore
from store.subscribers import SubscriberStore

if TYPE_CHECKING:  # the web framework and the server load only for the commands that serve
    import uvicorn
    from fastapi import FastAPI


def build_ingestor(
    settings: Settings,
    store: SqlStore,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock = system_clock,
    delay: float | None = None,
) -> tuple[Ingestor, httpx.Client]:
    """The ingestor and the client it owns (close it when done).

    With ``PAPERBOY_FEED_URL`` set, the feed source goes to a fetcher of its own that opens a
    client for the feed's host each time it fetches (scraper/feed.py); a feed on the site's own
    host goes through the site's client, so one spacing covers both.
    """
    http, client = _polite_http(settings, settings.hf_base_url, transport, delay)
    fetcher: Fetcher = HuggingFaceFetcher(http, RobotsGate(http, settings.hf_base_url), clock)
    if settings.feed_url:

        @contextmanager
        def connect(origin: str) -> Iterator[PoliteHttp]:
            if _same_site(origin, settings.hf_base_url):
                yield http  # one host, one spacing: the site's own client
                return
            name = httpx.URL(origin).host or origin
            feed_http, feed_client = _polite_http(settings, origin, transport, delay, name)
            with feed_client:
                yield feed_http

        fetcher = Sources(fetcher, FeedFetcher(settings.feed_url, connect, clock))
    # The hook embeds new papers only while an active profile matches by meaning.
    hook = runtime.shared(settings, store._engine, clock).ingest_hook()
    return Ingestor(fetcher, store, clock, embedding=hook), client


def _polite_http(
    settings: Settings,
    base_url: str,
    transport: httpx.BaseTransport | None,
    delay: float | None,
    name: str = HUGGING_FACE,
) -> tuple[PoliteHttp, httpx.Client]:
    """A polite client bound to one site, as the settings ask (``name``: the site in errors)."""
    client = build_client(
        ClientConfig(
            base_url=base_url,
            user_agent=settings.http_user_agent(),
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        ),
        transport=transport,
    )
    http = PoliteHttp(
        client,
        Politeness(
            delay=settings.request_delay if delay is None else delay,
            max_retries=settings.max_retries,
            retry_after_cap=settings.retry_after_cap,
        ),
        limits=Limits(
            max_response_bytes=settings.max_response_bytes, deadline=settings.request_deadline
        ),
        site=name,
    )
    return http, client


def _same_site(origin: str, base_url: str) -> bool:
    """Whether the feed's origin is the site's own (scheme, host and port; the spacing is per
    client), and the site's base URL has no path that its client would put before the feed's."""
    return same_origin(origin, base_url) and httpx.URL(base_url).path in ("", "/")


def transport_factory(settings: Settings) -> Callable[[], Transport]:
    """A maker of transports (one per sending worker) for PAPERBOY_MAIL_TRANSPORT."""
    if settings.mail_transport is MailTransport.NULL:
        return NullTransport
    if settings.mail_transport is MailTransport.OUTBOX:
        directory = settings.outbox_dir
        return lambda: OutboxTransport(directory)
    config = smtp_config(settings)
    return lambda: SmtpTransport(config)


def smtp_config(settings: Settings) -> SmtpConfig:
    """The relay, the login and how long each step of the conversation may take."""
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=Security(settings.smtp_security),
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        verify_tls=settings.smtp_verify_tls,
        timeouts=SmtpTimeouts(
            connect=settings.smtp_timeout_connect,
            greeting=settings.smtp_timeout_greeting,
            command=settings.smtp_timeout_command,
            data_start=settings.smtp_timeout_data_start,
            data_block=settings.smtp_timeout_data_block,
            data_end=settings.smtp_timeout_data_end,
        ),
    )


def build_dispatcher(
    settings: Settings, engine: Engine, *, clock: Clock = system_clock
) -> Dispatcher:
    secret = load_secret(settings.secret_key.get_secret_value(), settings.secret_key_file)
    return Dispatcher(
        papers=SqlStore(engine),
        people=SubscriberStore(engine),
        ledger=Ledger(engine),
        tokens=Tokens(secret, clock),
        config=MailConfig(
            sender=settings.mail_from,
            public_url=settings.public_url,
            max_bytes=settings.digest_max_bytes,
            lease=timedelta(seconds=settings.send_lease),
            retention=timedelta(days=settings.digest_retention_days),
        ),
        clock=clock,
        matching=runtime.shared(settings, engine, clock),
    )


def alert_config(settings: Settings) -> AlertConfig:
    return AlertConfig(
        admin_email=settings.admin_email,
        sender=settings.mail_from,
        broken_after=settings.alert_after_broken,
        stale_after=timedelta(hours=settings.alert_stale_hours),
    )


def build_web(settings: Settings, engine: Engine, *, clock: Clock = system_clock) -> FastAPI:
    from paperboy.web.app import WebContext, create_app
    from paperboy.web.limits import parse_networks
    from paperboy.web.mails import PageMailer

    secret = load_secret(settings.secret_key.get_secret_value(), settings.secret_key_file)
    tokens = Tokens(secret, clock)
    mailer = PageMailer(
        transports=transport_factory(settings),
        sender=settings.mail_from,
        public_url=settings.public_url,
        tokens=tokens,
        clock=clock,
    )
    context = WebContext(
        engine,
        tokens,
        clock,
        mailer,
        public_url=settings.public_url,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        semantics=runtime.shared(settings, engine, clock),
    )
    return create_app(context)


def server_config(
    app: FastAPI, host: str, port: int, *, log_level: str = "warning"
) -> uvicorn.Config:
    """How uvicorn serves the pages. Its own proxy handling is off: by default it believes
    X-Forwarded-For from 127.0.0.1 whatever it says; the app's guard believes it only from
    PAPERBOY_TRUSTED_PROXIES."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
    )
