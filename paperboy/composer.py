"""Compose the digests that are due: the thin I/O around paperboy.planner.

Reads who is due, their profiles, the papers since their previous digest and the health of
fetching; the planner decides each digest; this module renders it (mailer.render), builds its
message once and records it with a pending delivery (store.ledger), one transaction each.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Protocol

from mailer.message import build, clean_subject
from mailer.render import DigestRenderer
from mailer.types import DigestEntry, OutgoingEmail
from paperboy import digest as digests
from paperboy import feedback, freshness, planner
from paperboy.clock import Clock
from paperboy.errors import InputError
from paperboy.links import LinkBuilder
from paperboy.mailrun import MailConfig, Report
from paperboy.planner import DigestPlan, Withheld
from paperboy.profiles.matcher import Match, Matcher
from paperboy.tokens import MAX_AGE, Purpose, Tokens
from scraper.models import GOOD_VERDICTS, Verdict, View
from store.types import DigestKind, DigestRecord, Fetch, Paper, Profile, Subscriber

log = logging.getLogger(__name__)
LATEST_READ = 50  # recent daily-list fetches read for freshness (a backfill adds one a day)


class PaperSource(Protocol):
    """What composing needs of the paper store."""

    def papers_seen_between(self, start: datetime, end: datetime) -> list[Paper]: ...

    def list_fetches(
        self, *, limit: int = 20, source: View | None = None, verdict: Verdict | None = None
    ) -> list[Fetch]: ...

    def last_fetch(
        self,
        *,
        verdicts: Sequence[Verdict] | None = None,
        source: View | None = None,
        period: str | None = None,
    ) -> Fetch | None: ...


class People(Protocol):
    """What composing needs of the subscribers."""

    def expire_pending(self, before: datetime) -> int: ...

    def active_profiles(self) -> list[tuple[Subscriber, Profile]]: ...

    def profiles(self, subscriber_id: int) -> list[Profile]: ...


class DigestArchive(Protocol):
    """What composing needs of the ledger: the digests kept, and a place for new ones."""

    def prune(self, before: datetime, *, batch: int = 500) -> int: ...

    def periods(self, subscriber_ids: Sequence[int]) -> dict[int, frozenset[str]]: ...

    def window_ends(self, subscriber_ids: Sequence[int]) -> dict[int, datetime]: ...

    def record(self, digest: DigestRecord) -> int | None: ...


class Matching(Protocol):
    """How stored profiles become a matcher (paperboy.semantic.runtime.Semantics: their
    feedback, closeness and meaning)."""

    def matcher(self, profiles: Sequence[Profile]) -> Matcher: ...


class WordsOnly:
    """Matching without meaning or feedback (about:/like: profiles match nothing and are
    listed in ``Matcher.without_meaning``): for tests and tools that load no model."""

    def matcher(self, profiles: Sequence[Profile]) -> Matcher:
        return Matcher([feedback.spec(p) for p in profiles])


class Composer:
    def __init__(
        self,
        *,
        papers: PaperSource,
        people: People,
        ledger: DigestArchive,
        tokens: Tokens,
        config: MailConfig,
        clock: Clock,
        renderer: DigestRenderer | None = None,
        matching: Matching | None = None,
    ) -> None:
        self._papers, self._people, self._ledger = papers, people, ledger
        self._matching = matching or WordsOnly()
        self._tokens, self._config, self._clock = tokens, config, clock
        self._links = LinkBuilder(tokens, config.public_url)
        self._renderer = renderer or DigestRenderer()
        self._sender = parseaddr(config.sender)[1]  # the bare address, for the mailto link

    def compose(self, *, dry_run: bool = False) -> Report:
        now = self._clock()
        report = Report()
        if not dry_run:
            expiry = timedelta(seconds=MAX_AGE[Purpose.CONFIRM] or 0)
            report.expired_signups = self._people.expire_pending(now - expiry)
            report.pruned = self._ledger.prune(now - self._config.retention)
        pairs = self._people.active_profiles()
        subscribers = {s.id: s for s, _ in pairs}
        due = planner.due(subscribers.values(), self._ledger.periods(list(subscribers)), now)
        report.due = len(due)
        if not due:
            return report
        stale = self._stale(now)
        ends = self._ledger.window_ends(list(due)) if not stale else {}
        found, refused = self._matches(pairs, due, ends, now) if not stale else ({}, {})
        cache: dict[object, DigestEntry] = {}
        for sid, period in due.items():
            subscriber = subscribers[sid]
            decided = planner.plan(
                subscriber,
                period,
                found.get(sid, ()),
                previous_end=ends.get(sid),
                now=now,
                refused=refused.get(sid, ()),
                stale=stale,
            )
            if isinstance(decided, Withheld):
                _withheld(report, decided, len(due))
                if decided.stale:  # every digest waits for the same reason: said once
                    return report
                continue
            self._compose_one(report, subscriber, decided, cache, dry_run=dry_run)
        return report

    def _matches(
        self,
        pairs: Sequence[tuple[Subscriber, Profile]],
        due: dict[int, str],
        ends: dict[int, datetime],
        now: datetime,
    ) -> tuple[dict[int, list[Match]], dict[int, list[str]]]:
        """Every due subscriber's matches since the earliest window start, and the profiles
        the matcher refused (stored before the query limits, or written by hand)."""
        by_id = {s.id: s for s, _ in pairs}
        start = min(planner.window_start(by_id[sid], ends.get(sid), now) for sid in due)
        matcher = self._matching.matcher([p for s, p in pairs if s.id in due])
        refused: dict[int, list[str]] = {}
        for spec, error in matcher.rejected:
            refused.setdefault(spec.subscriber_id, []).append(error.message)
        result = matcher.match(self._papers.papers_seen_between(start, now))
        return {sid: result.for_subscriber(sid) for sid in due}, refused

    def _compose_one(
        self,
        report: Report,
        subscriber: Subscriber,
        plan: DigestPlan,
        cache: dict[object, DigestEntry],
        *,
        dry_run: bool,
    ) -> None:
        try:
            record = self._digest(subscriber, plan, cache)
        except InputError as e:  # one unusable row must not stop everybody's digest
            report.errors.append(f"no digest for {subscriber.email}: {e}")
            log.error("no digest for %s: %s", subscriber.email, e)
            return
        if dry_run:  # counted exactly as send counts it; only real mails are listed
            count(report, record)
            if plan.mailed:
                report.previews.append((subscriber.email, record.subject, record.shown))
            return
        if self._ledger.record(record) is not None:
            count(report, record)

    def preview(self, subscriber: Subscriber, *, archive_url: str | None = None) -> DigestRecord:
        """The digest this subscriber would get now, due or not; nothing is recorded.

        Its kind is the one send would record (skipped: send mails nothing). ``archive_url``
        replaces the archive page in its links ("view in browser", "and N more"): a preview's
        period has no digest in the archive, so the real link would not work yet.
        """
        now = self._clock()
        previous = self._ledger.window_ends([subscriber.id]).get(subscriber.id)
        start = planner.window_start(subscriber, previous, now)
        period = planner.preview_period(subscriber, now)
        matcher = self._matching.matcher(self._people.profiles(subscriber.id))
        if matcher.rejected:  # the same profile would stop this subscriber's real digest
            raise matcher.rejected[0][1]
        papers = self._papers.papers_seen_between(start, now)
        matches = matcher.match(papers).for_subscriber(subscriber.id)
        decided = planner.plan(subscriber, period, matches, previous_end=previous, now=now)
        assert isinstance(decided, DigestPlan)  # neither stale nor refused was passed
        links = self.links(subscriber, period)
        if archive_url is not None:
            links = links.with_archive(archive_url)
        return self._digest(subscriber, decided, {}, links)

    def stale_reason(self) -> str | None:
        """Why compose would compose nothing now (fetching broken or stale), or None."""
        return self._stale(self._clock())

    def _stale(self, now: datetime) -> str | None:
        """Why nothing may be composed now (see paperboy.freshness), from the newest fetch and
        the newest good fetch of each list that can feed today's digests."""
        # The newest fetches of the daily list, whatever day each is filed under: a fetch of the
        # latest list may carry any day the site answered with.
        found = {f.id: f for f in self._papers.list_fetches(source=View.DAY, limit=LATEST_READ)}
        for source, period in freshness.wanted(now):
            for verdicts in (None, GOOD_VERDICTS):
                row = self._papers.last_fetch(verdicts=verdicts, source=source, period=period)
                if row is not None:
                    found[row.id] = row
        return freshness.stale(list(found.values()), now)

    def _digest(
        self,
        subscriber: Subscriber,
        plan: DigestPlan,
        cache: dict[object, DigestEntry],
        links: digests.Links | None = None,
    ) -> DigestRecord:
        links = links or self.links(subscriber, plan.period)

        def render(selection: digests.Selection) -> tuple[str, str]:
            content = digests.content(
                subscriber.email,
                plan.period,
                selection,
                links,
                cache,
                timing=planner.timing(subscriber),
                now=plan.window_end,
                thumbnails=subscriber.thumbnails,
            )
            return self._renderer.render(content)

        def size(rendered: tuple[str, str]) -> int:
            return len(rendered[0].encode()) + len(rendered[1].encode())

        selection, (html, text) = planner.fit(plan.selection, render, size, self._config.max_bytes)
        subject = clean_subject(digests.subject(selection, plan.period))
        message_id = f"<digest.{uuid.uuid4().hex}@{self._config.domain}>"
        # The message is built once, here: every retry sends the very same bytes (same
        # Message-ID and Date), and the sending loop does no rendering or encoding at all.
        message = build(
            self._outgoing(subscriber, subject, html, text, message_id),
            sender=self._config.sender,
            list_id=f"Paperboy digest <digest.{self._config.domain}>",
            date=plan.window_end,
        )
        return DigestRecord(
            subscriber_id=subscriber.id,
            recipient=subscriber.email,
            period=plan.period,
            kind=plan.kind,
            window_start=plan.window_start,
            window_end=plan.window_end,
            paper_ids=selection.paper_ids,
            shown=selection.shown,
            subject=subject,
            message_id=message_id,
            html=html,
            text=text,
            message=message,
            created_at=plan.window_end,
            deadline=plan.deadline,
        )

    def links(self, subscriber: Subscriber, period: str) -> digests.Links:
        """The digest's links, each naming the subscriber's random link key (never the id)."""
        return self._links.digest_links(subscriber.link_key, period)

    def _outgoing(
        self,
        subscriber: Subscriber,
        subject: str,
        html: str,
        text: str,
        message_id: str,
    ) -> OutgoingEmail:
        mailbox = self._sender or f"paperboy@{self._config.domain}"
        pair = self._links.list_unsubscribe(subscriber.link_key, mailbox)
        return OutgoingEmail(
            recipient=subscriber.email,
            subject=subject,
            text=text,
            html=html,
            message_id=message_id,
            unsubscribe_url=pair.url,
            unsubscribe_mailto=pair.mailto,
        )


def _withheld(report: Report, withheld: Withheld, due: int) -> None:
    if withheld.stale:  # never tell subscribers "nothing new" when we could not look
        report.skipped_reason = withheld.reasons[0]
        log.warning("not composing %d digests: %s", due, withheld.reasons[0])
        return
    for problem in withheld.reasons:  # no digest rather than one that leaves a profile out
        report.errors.append(f"no digest for {withheld.recipient}: {problem}")
        log.error("no digest for %s: %s", withheld.recipient, problem)


def count(report: Report, record: DigestRecord) -> None:
    """The one count compose, the dry run and the preview share."""
    report.matched += len(record.paper_ids)
    report.composed += record.kind != DigestKind.SKIPPED
    report.empty += record.kind == DigestKind.SKIPPED
