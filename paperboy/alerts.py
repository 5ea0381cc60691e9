"""Tell the operator when fetching breaks: after K broken fetches in a row of a source, or when
nothing was fetched successfully for a while; and when delivery stopped for the mail relay (the
breaker tripped, or the relay or outbox refused us). One alert per incident, closed on recovery."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailer.notice import send_plain
from mailer.transports import SendError, Transport
from paperboy.dispatch import Report
from paperboy.settings import ALERT_STALE_HOURS
from scraper.models import GOOD_VERDICTS, View
from store.health import HealthStore
from store.repository import SqlStore

log = logging.getLogger(__name__)
WATCHED: tuple[View, ...] = (View.DAY, View.TRENDING, View.WEEK, View.MONTH)
RELAY = "smtp"  # the delivery alert's key


@dataclass(frozen=True, slots=True)
class AlertConfig:
    admin_email: str  # empty: alerts are logged and kept, not mailed
    sender: str
    broken_after: int = 3
    stale_after: timedelta = timedelta(hours=ALERT_STALE_HOURS)


def incidents(
    broken: dict[View, int], last_success: datetime | None, now: datetime, config: AlertConfig
) -> dict[str, str]:
    """The incidents going on now, by key: a pure function of the facts."""
    found = {
        f"broken:{source}": f"the {source} list failed {count} times in a row"
        for source, count in broken.items()
        if count >= config.broken_after
    }
    if last_success is None or now - last_success > config.stale_after:
        since = f"since {last_success:%Y-%m-%d %H:%M} UTC" if last_success else "ever"
        found["stale"] = f"no successful fetch {since}"
    return found


def check(
    papers: SqlStore,
    health: HealthStore,
    transports: Callable[[], Transport],
    config: AlertConfig,
    now: datetime,
) -> list[str]:
    """Open (and mail) new incidents, close recovered ones; returns what was opened."""
    broken = {source: health.broken_in_a_row(source) for source in WATCHED}
    good = papers.last_fetch(verdicts=GOOD_VERDICTS)
    going_on = incidents(broken, good.finished_at if good else None, now, config)
    open_now = {a.key: a for a in health.open_alerts()}
    for key, alert in open_now.items():
        if key not in going_on and key != RELAY:  # the relay's alert is delivery()'s
            health.close_alert(alert.id, now)
            log.info("alert %s closed: recovered", key)
    opened: dict[int, str] = {}
    for key, message in going_on.items():
        if key not in open_now:  # one alert per incident, however many runs see it
            opened[health.open_alert(key, message, now)] = message
            log.error("alert: %s", message)
    # What went wrong together (the site down breaks every list) goes out in one mail.
    if opened and config.admin_email and _mail(transports, config, list(opened.values()), now):
        for alert_id in opened:
            health.mark_mailed(alert_id, now)
    return list(opened.values())


def delivery(health: HealthStore, report: Report, now: datetime) -> str | None:
    """After a delivery run: open the relay alert when the run stopped for the relay (what was
    not tried waits for the next run), close it once a run delivers again. Returns the message
    of an alert opened now. It is not mailed: the mail would go through that same relay."""
    alert = next((a for a in health.open_alerts() if a.key == RELAY), None)
    if report.breaker is not None:
        if alert is not None:  # one alert per incident, however many runs see it
            return None
        message = f"mail relay: {report.breaker}"
        health.open_alert(RELAY, message, now)
        log.error("alert: %s", message)
        return message
    if alert is not None and report.sent:
        health.close_alert(alert.id, now)
        log.info("alert %s closed: a delivery run sent mail again", RELAY)
    return None


def _mail(
    transports: Callable[[], Transport], config: AlertConfig, messages: list[str], now: datetime
) -> bool:
    try:
        send_plain(
            transports,
            sender=config.sender,
            recipient=config.admin_email,
            subject=f"Paperboy alert: {messages[0]}"
            + (f" (+{len(messages) - 1})" if len(messages) > 1 else ""),
            text="".join(f"- {m}\n" for m in messages)
            + "\nRun `paperboy doctor` and `paperboy fetches` on the server.\n",
            date=now,
            kind="alert",
        )
    except SendError as e:
        log.error("could not mail the alert to %s: %s", config.admin_email, e)
        return False
    return True
