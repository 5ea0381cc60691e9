"""The composition root: turns Settings into the objects commands use; nothing else reads them."""

from __future__ import annotations

import httpx

from paperboy.clock import Clock, system_clock
from paperboy.ingest import Ingestor
from paperboy.settings import Settings
from scraper.fetch import HuggingFaceFetcher
from scraper.http import ClientConfig, PoliteHttp, Politeness, build_client
from scraper.robots import RobotsGate
from store.repository import SqlStore


def build_ingestor(
    settings: Settings,
    store: SqlStore,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock = system_clock,
    delay: float | None = None,
) -> tuple[Ingestor, httpx.Client]:
    """The ingestor and the client it owns (close it when done)."""
    client = build_client(
        ClientConfig(
            base_url=settings.hf_base_url,
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
    )
    fetcher = HuggingFaceFetcher(http, RobotsGate(http, settings.hf_base_url), clock)
    return Ingestor(fetcher, store, clock), client
