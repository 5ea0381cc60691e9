"""The subscribers repository: subscribers and their profiles, written whole or not at all."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from base.errors import InputError
from store.base import Repository
from store.batching import chunks
from store.errors import (
    AlreadySubscribed,
    NoSuchProfile,
    NoSuchSubscriber,
    ProfileNameTaken,
    TooManyProfiles,
)
from store.tables import PROFILES, SUBSCRIBERS
from store.types import (
    Action,
    Frequency,
    NewProfile,
    NewSubscriber,
    Profile,
    Status,
    Subscriber,
    SubscriberSettings,
    allows,
    transition,
)

MAX_PROFILES = 20  # a subscriber's profiles, whoever adds them (CLI, pages, import)


class SubscriberStore(Repository):
    """Subscribers and their profiles."""

    # -- subscribers -------------------------------------------------------------------------

    def add(self, new: NewSubscriber, now: datetime) -> Subscriber:
        return self.add_many([new], now)[0]

    def add_many(self, new: Sequence[NewSubscriber], now: datetime) -> list[Subscriber]:
        """Insert subscribers with their profiles in one transaction: all of them or none."""
        emails = [n.email for n in new]
        try:
            with self._begin() as connection:
                taken = self._existing(connection, emails)
                if taken:
                    raise AlreadySubscribed(taken)
                ids = []
                for n in new:
                    values = {**_settings(n.settings), "email": n.email, "status": n.status}
                    values["link_key"] = new_link_key()
                    values |= {"created_at": now, "updated_at": now}
                    values["confirmed_at"] = now if n.status == Status.ACTIVE else None
                    subscriber_id = connection.execute(
                        SUBSCRIBERS.insert().values(**values).returning(SUBSCRIBERS.c.id)
                    ).scalar_one()
                    ids.append(subscriber_id)
                    self._insert_profiles(connection, subscriber_id, n.profiles, now)
        except IntegrityError as e:
            raise InputError(
                "an address or a profile name appears twice",
                hint="addresses are unique, and profile names unique per subscriber",
            ) from e
        return [self._by_id(i) for i in ids]

    def _existing(self, connection: Connection, emails: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunks(emails, 500):
            found.update(
                connection.execute(
                    select(SUBSCRIBERS.c.email).where(SUBSCRIBERS.c.email.in_(chunk))
                ).scalars()
            )
        return found

    def _insert_profiles(
        self,
        connection: Connection,
        subscriber_id: int,
        profiles: Sequence[NewProfile],
        now: datetime,
    ) -> None:
        """Insert ``profiles``, keeping the subscriber at MAX_PROFILES or fewer: the subscriber's
        row is locked first (PostgreSQL; SQLite's write transaction already is one writer), so
        two additions at once cannot both pass the count."""
        if profiles:
            owner = connection.execute(
                select(SUBSCRIBERS.c.email)
                .where(SUBSCRIBERS.c.id == subscriber_id)
                .with_for_update()
            ).scalar_one()
            kept = connection.execute(
                select(func.count())
                .select_from(PROFILES)
                .where(PROFILES.c.subscriber_id == subscriber_id)
            ).scalar_one()
            if kept + len(profiles) > MAX_PROFILES:
                raise TooManyProfiles(owner, MAX_PROFILES)
            connection.execute(
                PROFILES.insert(),
                [
                    {
                        "subscriber_id": subscriber_id,
                        "name": p.name,
                        "query": p.query,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for p in profiles
                ],
            )

    def get(self, email: str) -> Subscriber | None:
        row = self._first(select(SUBSCRIBERS).where(SUBSCRIBERS.c.email == email))
        return _subscriber(row) if row is not None else None

    def require(self, email: str) -> Subscriber:
        found = self.get(email)
        if found is None:
            raise NoSuchSubscriber(email)
        return found

    def _by_id(self, subscriber_id: int) -> Subscriber:
        found = self.by_id(subscriber_id)
        assert found is not None
        return found

    def by_id(self, subscriber_id: int) -> Subscriber | None:
        row = self._first(select(SUBSCRIBERS).where(SUBSCRIBERS.c.id == subscriber_id))
        return _subscriber(row) if row is not None else None

    def by_link_key(self, link_key: str) -> Subscriber | None:
        """The subscriber whose links carry ``link_key`` (None once it was rotated away)."""
        if not link_key:
            return None
        row = self._first(select(SUBSCRIBERS).where(SUBSCRIBERS.c.link_key == link_key))
        return _subscriber(row) if row is not None else None

    def list_subscribers(self, status: Status | None = None) -> list[Subscriber]:
        query = select(SUBSCRIBERS).order_by(SUBSCRIBERS.c.email)
        if status is not None:
            query = query.where(SUBSCRIBERS.c.status == status)
        return [_subscriber(r._mapping) for r in self._rows(query)]

    def count(self) -> int:
        return int(self._rows(select(func.count()).select_from(SUBSCRIBERS))[0][0])

    def update_settings(
        self, email: str, settings: SubscriberSettings, now: datetime
    ) -> Subscriber:
        subscriber = self.require(email)
        with self._begin() as connection:
            connection.execute(
                update(SUBSCRIBERS)
                .where(SUBSCRIBERS.c.id == subscriber.id)
                .values(**_settings(settings), updated_at=now)
            )
        return self._by_id(subscriber.id)

    def set_status(self, email: str, status: Status, now: datetime) -> Subscriber:
        """Write ``status``, which the caller got from ``transition`` (store.types)."""
        subscriber = self.require(email)
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == Status.UNSUBSCRIBED and subscriber.status != Status.UNSUBSCRIBED:
            values["unsubscribed_at"] = now
            values["link_key"] = new_link_key()  # every link mailed so far stops working
        if status == Status.ACTIVE and subscriber.confirmed_at is None:
            values["confirmed_at"] = now
        with self._begin() as connection:
            connection.execute(
                update(SUBSCRIBERS).where(SUBSCRIBERS.c.id == subscriber.id).values(**values)
            )
        return self._by_id(subscriber.id)

    def confirm_pending(self, link_key: str, now: datetime) -> Subscriber | None:
        """Activate the pending sign-up whose link key is ``link_key``; None if there is none
        (confirmed already, erased, or signed up again since: its key rotated).

        The move is ``transition(current, CONFIRM)``, written only if the status is still the
        one it was decided from (two confirmations at once: the second finds none)."""
        row = self._first(
            select(SUBSCRIBERS.c.id, SUBSCRIBERS.c.status).where(SUBSCRIBERS.c.link_key == link_key)
        )
        if row is None:
            return None
        current = Status(row["status"])
        if not allows(current, Action.CONFIRM):  # confirmed already
            return None
        with self._begin() as connection:
            found = connection.execute(
                update(SUBSCRIBERS)
                .where(
                    SUBSCRIBERS.c.id == row["id"],
                    SUBSCRIBERS.c.link_key == link_key,
                    SUBSCRIBERS.c.status == current,
                )
                .values(
                    status=transition(current, Action.CONFIRM), confirmed_at=now, updated_at=now
                )
                .returning(SUBSCRIBERS.c.id)
            ).scalar_one_or_none()
        return self._by_id(found) if found is not None else None

    def restart_signup(
        self,
        subscriber_id: int,
        settings: SubscriberSettings,
        profiles: Sequence[NewProfile],
        now: datetime,
    ) -> Subscriber:
        """A new sign-up for a known pending or unsubscribed address: pending again, with what
        was just asked for (settings and profiles replaced), until the new link is confirmed.

        The link key is rotated: an earlier confirmation link (which promised other settings)
        or any link of a past subscription stops working. The move is
        ``transition(current, SIGN_UP_AGAIN)`` (InputError for an active, paused or bounced one).
        """
        pending = transition(self._by_id(subscriber_id).status, Action.SIGN_UP_AGAIN)
        with self._begin() as connection:
            connection.execute(
                update(SUBSCRIBERS)
                .where(SUBSCRIBERS.c.id == subscriber_id)
                .values(
                    **_settings(settings),
                    status=pending,
                    updated_at=now,
                    link_key=new_link_key(),
                )
            )
            connection.execute(delete(PROFILES).where(PROFILES.c.subscriber_id == subscriber_id))
            self._insert_profiles(connection, subscriber_id, profiles, now)
        return self._by_id(subscriber_id)

    def expire_pending(self, before: datetime) -> int:
        """Erase sign-ups left unconfirmed since ``before``; how many went."""
        stale = select(SUBSCRIBERS.c.id).where(
            SUBSCRIBERS.c.status == Status.PENDING, SUBSCRIBERS.c.updated_at < before
        )
        with self._begin() as connection:
            ids = list(connection.execute(stale).scalars())
            if ids:
                connection.execute(delete(PROFILES).where(PROFILES.c.subscriber_id.in_(ids)))
                connection.execute(delete(SUBSCRIBERS).where(SUBSCRIBERS.c.id.in_(ids)))
        return len(ids)

    def forget(self, email: str) -> None:
        """Erase the subscriber for good: their profiles, and through the foreign keys' ON DELETE
        CASCADE their digests (messages, deliveries) and their profiles' feedback."""
        subscriber = self.require(email)
        with self._begin() as connection:
            connection.execute(delete(PROFILES).where(PROFILES.c.subscriber_id == subscriber.id))
            connection.execute(delete(SUBSCRIBERS).where(SUBSCRIBERS.c.id == subscriber.id))

    # -- profiles ----------------------------------------------------------------------------

    def profiles(self, subscriber_id: int) -> list[Profile]:
        query = (
            select(PROFILES)
            .where(PROFILES.c.subscriber_id == subscriber_id)
            .order_by(PROFILES.c.name)
        )
        return [_profile(r._mapping) for r in self._rows(query)]

    def all_profiles(self) -> dict[int, list[Profile]]:
        grouped: dict[int, list[Profile]] = {}
        for row in self._rows(select(PROFILES).order_by(PROFILES.c.subscriber_id, PROFILES.c.name)):
            grouped.setdefault(row.subscriber_id, []).append(_profile(row._mapping))
        return grouped

    def active_profiles(self) -> list[tuple[Subscriber, Profile]]:
        """Profiles of the subscribers who get digests now (status active)."""
        query = (
            select(SUBSCRIBERS, PROFILES)
            .join(PROFILES, PROFILES.c.subscriber_id == SUBSCRIBERS.c.id)
            .where(SUBSCRIBERS.c.status == Status.ACTIVE)
            .order_by(SUBSCRIBERS.c.id, PROFILES.c.id)
        )
        pairs = []
        for row in self._rows(query):
            values = row._mapping
            subscriber = _subscriber({c.name: values[SUBSCRIBERS.c[c.name]] for c in SUBSCRIBERS.c})
            profile = _profile({c.name: values[PROFILES.c[c.name]] for c in PROFILES.c})
            pairs.append((subscriber, profile))
        return pairs

    def add_profile(self, email: str, profile: NewProfile, now: datetime) -> Profile:
        subscriber = self.require(email)
        try:
            with self._begin() as connection:
                self._insert_profiles(connection, subscriber.id, [profile], now)
        except IntegrityError as e:
            raise ProfileNameTaken(email, profile.name) from e
        return self._profile_named(subscriber.id, profile.name)

    def edit_profile(self, email: str, name: str, profile: NewProfile, now: datetime) -> Profile:
        subscriber = self.require(email)
        existing = self._profile_named(subscriber.id, name)
        try:
            with self._begin() as connection:
                connection.execute(
                    update(PROFILES)
                    .where(PROFILES.c.id == existing.id)
                    .values(name=profile.name, query=profile.query, updated_at=now)
                )
        except IntegrityError as e:
            raise InputError(f"{email} already has a profile named {profile.name!r}") from e
        return self._profile_named(subscriber.id, profile.name)

    def set_closeness(self, email: str, name: str, step: int, model: str, now: datetime) -> Profile:
        """Store how close counts for this profile's about:/like: terms, and for which model."""
        subscriber = self.require(email)
        existing = self._profile_named(subscriber.id, name)
        with self._begin() as connection:
            connection.execute(
                update(PROFILES)
                .where(PROFILES.c.id == existing.id)
                .values(closeness=step, closeness_model=model, updated_at=now)
            )
        return self._profile_named(subscriber.id, name)

    def remove_profile(self, email: str, name: str) -> None:
        subscriber = self.require(email)
        existing = self._profile_named(subscriber.id, name)
        with self._begin() as connection:
            connection.execute(delete(PROFILES).where(PROFILES.c.id == existing.id))

    def _profile_named(self, subscriber_id: int, name: str) -> Profile:
        row = self._first(
            select(PROFILES).where(
                PROFILES.c.subscriber_id == subscriber_id, PROFILES.c.name == name
            )
        )
        if row is None:
            raise NoSuchProfile(name)
        return _profile(row)


def new_link_key() -> str:
    """A fresh random key for a subscriber's links (144 bits, URL-safe, 24 characters)."""
    return secrets.token_urlsafe(18)


def _settings(settings: SubscriberSettings) -> dict[str, Any]:
    return asdict(settings)


def _subscriber(m: Any) -> Subscriber:
    values = {name: m[name] for name in Subscriber.__dataclass_fields__}
    values["status"] = Status(values["status"])
    values["frequency"] = Frequency(values["frequency"])
    return Subscriber(**values)


def _profile(m: Any) -> Profile:
    return Profile(**{name: m[name] for name in Profile.__dataclass_fields__})
