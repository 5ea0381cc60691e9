"""The one exception root every layer raises from, and the errors the lower layers raise.

Each error carries its data as fields, a message built from them and, where the layer that raises
it knows one, a hint for operators. Wording that names a command or a page belongs to the layer
that shows it (the CLI, the web), never here.
"""

from __future__ import annotations

from typing import ClassVar


class PaperboyError(Exception):
    """Root of every error Paperboy raises on purpose.

    ``message`` says what went wrong and where; ``hint`` tells an operator what to do about it.
    The CLI prints both and exits non-zero, never a traceback.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(PaperboyError):
    """A setting has a value Paperboy cannot use."""

    exit_code = 2

    def __init__(self, setting: str, problem: str, *, hint: str = "") -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(
            f"setting {setting}: {problem}",
            hint=hint or f"fix {setting} in the environment or the .env file",
        )


class FetchError(PaperboyError):
    """A request to Hugging Face failed. Each cause is a subclass (catch the one you mean, as
    with httpx); ``kind`` is the word a failed fetch is recorded under (``fetches.error_kind``).
    """

    kind: ClassVar[str] = "fetch"  # never raised as such: every raiser picks a subclass

    def __init__(
        self, url: str, problem: str, *, status_code: int | None = None, hint: str = ""
    ) -> None:
        self.url = url
        self.problem = problem
        self.status_code = status_code
        super().__init__(f"{problem} ({url})", hint=hint)


class Unreachable(FetchError):
    """The host did not answer: no connection, a timeout, or a network error after retries."""

    kind = "network"


class BadAnswer(FetchError):
    """The host answered, but not usefully: an HTTP error status or a body we cannot decode."""

    kind = "http"


class RateLimited(FetchError):
    """The host asked us to slow down (429, or 503 with a Retry-After) longer than we wait."""

    kind = "rate_limited"


class OverLimit(FetchError):
    """An answer cost more than one answer may: too many bytes or too much time."""

    kind = "limit"


class TooLarge(OverLimit):
    """The answer is bigger than the byte cap (as sent, announced, or inflated)."""


class TooSlow(OverLimit):
    """The answer did not arrive whole within the deadline."""


class RobotsRefused(FetchError):
    """robots.txt disallows the URL, or could not be read (RFC 9309: skip the run)."""

    kind = "robots"


class OffSiteRedirect(FetchError):
    """A redirect pointed away from the configured site; it is not followed."""

    kind = "redirect"


class ParseError(PaperboyError, ValueError):
    """A page or API answer does not have the shape Paperboy knows."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source = source
        self.where = where
        self.problem = problem
        super().__init__(
            f"{source}: {problem} at {where}" if where else f"{source}: {problem}",
            hint="Hugging Face may have changed its pages; the fetch is recorded as broken",
        )


class StoreError(PaperboyError):
    """The database cannot be reached, is not migrated, or refused a write."""


class DeliveryError(PaperboyError):
    """An email could not be handed to the transport."""


class InputError(PaperboyError, ValueError):
    """A value a person typed or imported is not acceptable: an address, a zone, an hour."""

    exit_code = 2
