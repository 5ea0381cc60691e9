"""Signed tokens for links in emails and pages: one salt per purpose, expiry where it matters."""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from paperboy.clock import Clock, system_clock
from paperboy.errors import ConfigError, PaperboyError


class Purpose(StrEnum):
    CONFIRM = "confirm"  # double opt-in
    MANAGE = "manage"  # the manage page
    UNSUBSCRIBE = "unsubscribe"  # one-click unsubscribe: never expires
    FEED = "feed"  # a profile's Atom feed
    ARCHIVE = "archive"  # "view in browser"
    CSRF = "csrf"  # a form's anti-forgery field (bound to a cookie)


MAX_AGE = {
    Purpose.CONFIRM: 3 * 24 * 3600,
    Purpose.MANAGE: 30 * 24 * 3600,
    Purpose.UNSUBSCRIBE: None,
    Purpose.FEED: None,
    Purpose.ARCHIVE: None,
    Purpose.CSRF: 24 * 3600,
}


class TokenError(PaperboyError):
    """A token is forged, expired, or made for another purpose."""


class TokenExpired(TokenError):
    """A genuine token past its age: the page may offer a fresh one."""


class Tokens:
    def __init__(self, secret: str, clock: Clock = system_clock) -> None:
        if len(secret) < 16:
            raise ConfigError("PAPERBOY_SECRET_KEY", "is shorter than 16 characters")
        self._secret = secret
        self._signer = _signer_on(clock)

    def make(self, purpose: Purpose, value: int | str) -> str:
        return self._serializer(purpose).dumps(value)

    def read(self, purpose: Purpose, token: str) -> int | str:
        try:
            value = self._serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
        except SignatureExpired as e:
            raise TokenExpired("this link has expired", hint="ask for a fresh link") from e
        except BadSignature as e:
            raise TokenError("this link is not valid", hint="use the link from your email") from e
        if not isinstance(value, int | str):
            raise TokenError("this link is not valid")
        return value

    def _serializer(self, purpose: Purpose) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            self._secret, salt=f"paperboy.{purpose.value}", signer=self._signer
        )


def _signer_on(clock: Clock) -> type[TimestampSigner]:
    """A TimestampSigner that reads the injected clock (tests pin it; expiry follows it)."""

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return ClockSigner


def load_secret(configured: str, key_file: Path) -> str:
    """The configured secret, or one generated once into ``key_file`` (mode 0600) and reused."""
    if configured:
        return configured
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        pass
    key_file.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret
