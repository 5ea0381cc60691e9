"""Signed tokens, the primitive under paperboy.links: one salt per purpose, expiry where it
matters. Only paperboy.links calls it; everything else builds and reads links there."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes

from paperboy.clock import Clock, system_clock
from paperboy.errors import ConfigError, PaperboyError


class Purpose(StrEnum):
    CONFIRM = "confirm"  # double opt-in
    MANAGE = "manage"  # the manage page
    UNSUBSCRIBE = "unsubscribe"  # one-click unsubscribe: never expires
    FEED = "feed"  # a profile's Atom feed
    ARCHIVE = "archive"  # "view in browser"
    CSRF = "csrf"  # a form's anti-forgery field (bound to a cookie)
    FEEDBACK = "feedback"  # "more like this" / "not interested" on one paper of a digest


_KEYED = "k:"  # marks a subscriber link that names a link key (older ones named the row id)

MAX_AGE = {
    Purpose.CONFIRM: 3 * 24 * 3600,
    Purpose.MANAGE: 30 * 24 * 3600,
    Purpose.UNSUBSCRIBE: None,
    Purpose.FEED: None,
    Purpose.ARCHIVE: None,
    Purpose.CSRF: 24 * 3600,
    Purpose.FEEDBACK: None,  # digests are read weeks later; the key rotation still ends it
}


class TokenError(PaperboyError):
    """A token is forged, expired, or made for another purpose."""


class TokenExpired(TokenError):
    """A genuine token past its age: the page may offer a fresh one."""


class TokenRevoked(TokenError):
    """A genuine token whose subscriber key was rotated (unsubscribed, forgotten, signed up
    again) or that names nobody any more: it must never act on whoever has the row now."""


def revoked() -> TokenRevoked:
    return TokenRevoked(
        "this link is no longer valid",
        hint="links stop working when you unsubscribe or sign up again; ask for a fresh link",
    )


@dataclass(frozen=True, slots=True)
class SubscriberRef:
    """What a subscriber's link names: their random link key and a detail (a period, a profile).

    ``legacy_id`` is set instead of the key for an unsubscribe link made before link keys
    existed (it named the row id); ``signed_at`` says when any link was made.
    """

    link_key: str
    detail: str
    signed_at: datetime
    legacy_id: int | None = None


class Tokens:
    def __init__(self, secret: str, clock: Clock = system_clock) -> None:
        if len(secret) < 16:
            raise ConfigError("PAPERBOY_SECRET_KEY", "is shorter than 16 characters")
        self._secret = secret
        self._clock = clock
        self._signer = _signer_on(clock)

    def make(self, purpose: Purpose, value: int | str) -> str:
        return self._serializer(purpose).dumps(value)

    def read(self, purpose: Purpose, token: str) -> int | str:
        return self._read(purpose, token)[0]

    def for_subscriber(self, purpose: Purpose, link_key: str, detail: str = "") -> str:
        """A link token naming a subscriber by their random key (never by row id)."""
        if not link_key:
            raise ValueError("a subscriber link needs the subscriber's link key")
        return self.make(purpose, f"{_KEYED}{link_key}:{detail}")

    def subscriber_minter(self, purpose: Purpose) -> Callable[[str, str], str]:
        """``for_subscriber`` for many links of one purpose (a digest's one link per paper):
        tokens read back exactly as its own, at a tenth of the cost (~40 µs a token went to
        building a serializer and a signer, deriving the key and trying zlib on each).

        The key is derived and the HMAC keyed once; the payload is never compressed
        (itsdangerous compresses it when that saves bytes, which a random link key's few dozen
        do not; its reader takes both forms), so the tokens are the same, byte for byte, but
        for a payload zlib could shrink.
        """
        serializer = self._serializer(purpose)
        signer = serializer.make_signer(serializer.salt)
        keyed = hmac.new(signer.derive_key(), digestmod=hashlib.sha1)
        sep = signer.sep
        stamps: dict[int, bytes] = {}  # a run mints thousands of tokens within one second

        def mint(link_key: str, detail: str = "") -> str:
            if not link_key:
                raise ValueError("a subscriber link needs the subscriber's link key")
            value = f"{_KEYED}{link_key}:{detail}"
            # JSON of a printable ASCII string without quotes or backslashes is the string in
            # quotes, as itsdangerous writes it; anything else goes through json.dumps.
            if value.isascii() and value.isprintable() and not ('"' in value or "\\" in value):
                payload = f'"{value}"'
            else:
                payload = json.dumps(value, ensure_ascii=False)
            now = int(self._clock().timestamp())
            stamp = stamps.get(now)
            if stamp is None:
                stamps.clear()
                stamp = stamps[now] = base64_encode(int_to_bytes(now))
            signed = _b64(payload.encode()) + sep + stamp
            mac = keyed.copy()
            mac.update(signed)
            return (signed + sep + _b64(mac.digest())).decode("ascii")

        return mint

    def read_subscriber(
        self, purpose: Purpose, token: str, *, any_age: bool = False
    ) -> SubscriberRef:
        """What a subscriber link names; TokenError if forged, expired or of another purpose.
        With ``any_age`` a genuine token past its age is read too (its signature and purpose
        are still checked): for a page that offers a fresh link, never to act on it."""
        value, signed_at = self._read(purpose, token, any_age=any_age)
        if isinstance(value, str) and value.startswith(_KEYED):
            link_key, _, detail = value.removeprefix(_KEYED).partition(":")
            return SubscriberRef(link_key, detail, signed_at)
        if purpose == Purpose.UNSUBSCRIBE and isinstance(value, int):
            # Mailed before link keys: unsubscribing must keep working from every old mail.
            return SubscriberRef("", "", signed_at, legacy_id=value)
        raise revoked()  # any other link of the old form named a row id: never trusted again

    def _read(
        self, purpose: Purpose, token: str, *, any_age: bool = False
    ) -> tuple[int | str, datetime]:
        try:
            value, stamp = self._serializer(purpose).loads(
                token, max_age=None if any_age else MAX_AGE[purpose], return_timestamp=True
            )
        except SignatureExpired as e:
            raise TokenExpired("this link has expired", hint="ask for a fresh link") from e
        except BadSignature as e:
            raise TokenError("this link is not valid", hint="use the link from your email") from e
        if not isinstance(value, int | str):
            raise TokenError("this link is not valid")
        return value, stamp

    def _serializer(self, purpose: Purpose) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            self._secret, salt=f"paperboy.{purpose.value}", signer=self._signer
        )


def _b64(data: bytes) -> bytes:
    """itsdangerous's base64_encode (URL-safe, unpadded) without its checks."""
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signer_on(clock: Clock) -> type[TimestampSigner]:
    """A TimestampSigner that reads the injected clock (tests pin it; expiry follows it)."""

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return ClockSigner


def load_secret(configured: str, key_file: Path) -> str:
    """The configured secret, or one generated once into ``key_file`` (mode 0600) and reused.

    A key file Paperboy cannot use (a folder, unreadable, not UTF-8, under a file) is a
    ConfigError naming PAPERBOY_SECRET_KEY_FILE, never an OSError from deep inside a command.
    """
    if configured:
        return configured

    def unusable(problem: str) -> ConfigError:
        return ConfigError(
            "PAPERBOY_SECRET_KEY_FILE",
            f"{key_file} {problem}",
            hint="point it at a file this user can read and write, or set PAPERBOY_SECRET_KEY",
        )

    def read() -> str:
        try:
            return key_file.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            raise unusable("is not a key Paperboy wrote (not UTF-8 text)") from None
        except IsADirectoryError:
            raise unusable("is a folder, not a file") from None
        except FileNotFoundError:
            raise
        except OSError as e:
            raise unusable(f"cannot be read: {e.strerror}") from e

    try:
        return read()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return read()
    except OSError as e:
        raise unusable(f"cannot be created: {e.strerror}") from e
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret
