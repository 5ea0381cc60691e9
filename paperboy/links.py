"""Every signed link Paperboy hands out, built and read in one place.

A mail or a page gets its URLs here (archive, manage, unsubscribe and its List-Unsubscribe
pair, sign-up confirmation, a profile's feed, feedback on one paper, the "fresh link" page), and
a route turns the token it was given back into a typed payload here. Each token names the
subscriber's random link key, never a row id, and is signed by paperboy.tokens with one salt per
purpose: a token made for one purpose is refused for every other (TokenError), an old one past
its age is TokenExpired, and one whose key was rotated names nobody (the route answers 410).
The wire form is the one mailed since link keys exist (``k:<key>:<detail>``), so every link
already in an inbox keeps working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol, Self, TypeVar
from urllib.parse import quote

from paperboy.digest import Feedback, Links
from paperboy.tokens import Purpose, SubscriberRef, TokenError, Tokens

# Where each kind of link lands; the routes in paperboy.web answer on ``<prefix>/{token}``.
PREFIX = {
    Purpose.ARCHIVE: "/d",
    Purpose.MANAGE: "/m",
    Purpose.UNSUBSCRIBE: "/u",
    Purpose.CONFIRM: "/c",
    Purpose.FEED: "/f",
    Purpose.FEEDBACK: "/r",  # "react": /f is the feed's, whose URLs sit in feed readers
}
FRESH_LINK = "/link"  # the page that mails a fresh manage link
_ARXIV_ID_MAX = 40  # "2501.12345", "hep-th/9901001": a detail longer than this is not one


class Payload(Protocol):
    """What a token of one purpose says, once read."""

    PURPOSE: ClassVar[Purpose]

    @property
    def ref(self) -> SubscriberRef: ...

    @classmethod
    def decoded(cls, ref: SubscriberRef) -> Self: ...


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True, slots=True)
class ArchiveLink:
    """ "View in browser": one sent digest, named by its period."""

    PURPOSE: ClassVar[Purpose] = Purpose.ARCHIVE
    ref: SubscriberRef
    period: str

    @classmethod
    def decoded(cls, ref: SubscriberRef) -> Self:
        return cls(ref, ref.detail)


@dataclass(frozen=True, slots=True)
class _RefOnly:
    """A link that carries the subscriber and nothing else."""

    ref: SubscriberRef

    @classmethod
    def decoded(cls, ref: SubscriberRef) -> Self:
        return cls(ref)


@dataclass(frozen=True, slots=True)
class ManageLink(_RefOnly):
    PURPOSE: ClassVar[Purpose] = Purpose.MANAGE


@dataclass(frozen=True, slots=True)
class UnsubscribeLink(_RefOnly):
    """The one kind still honoured in its older form, mailed before link keys: then
    ``ref.legacy_id`` names a row id (paperboy.tokens refuses that form for every other kind)."""

    PURPOSE: ClassVar[Purpose] = Purpose.UNSUBSCRIBE


@dataclass(frozen=True, slots=True)
class ConfirmLink(_RefOnly):
    """Double opt-in: confirms exactly the sign-up whose key it names."""

    PURPOSE: ClassVar[Purpose] = Purpose.CONFIRM


@dataclass(frozen=True, slots=True)
class FeedLink:
    """One profile's Atom feed."""

    PURPOSE: ClassVar[Purpose] = Purpose.FEED
    ref: SubscriberRef
    profile_id: int

    @classmethod
    def decoded(cls, ref: SubscriberRef) -> Self:
        return cls(ref, _profile_id(ref.detail))


@dataclass(frozen=True, slots=True)
class FeedbackLink:
    """ "More like this" / "Not interested": one paper, as matched by one profile."""

    PURPOSE: ClassVar[Purpose] = Purpose.FEEDBACK
    ref: SubscriberRef
    profile_id: int
    arxiv_id: str

    @classmethod
    def decoded(cls, ref: SubscriberRef) -> Self:
        profile, _, arxiv_id = ref.detail.partition(":")
        if not arxiv_id or len(arxiv_id) > _ARXIV_ID_MAX or not arxiv_id.isprintable():
            raise _malformed()
        return cls(ref, _profile_id(profile), arxiv_id)


@dataclass(frozen=True, slots=True)
class ListUnsubscribe:
    """The two List-Unsubscribe targets of a mail (RFC 2369, one-click per RFC 8058)."""

    url: str
    mailto: str


class LinkBuilder:
    """Builds the public URL of every link and reads every token back (and the CSRF field)."""

    def __init__(self, tokens: Tokens, public_url: str) -> None:
        self._tokens = tokens
        self._base = public_url.rstrip("/")
        self._minters: dict[Purpose, Callable[[str, str], str]] = {}

    # -- building ----------------------------------------------------------------------------

    def archive(self, link_key: str, period: str) -> str:
        return self._url(Purpose.ARCHIVE, link_key, period)

    def manage(self, link_key: str) -> str:
        return self._url(Purpose.MANAGE, link_key)

    def unsubscribe(self, link_key: str) -> str:
        return self._url(Purpose.UNSUBSCRIBE, link_key)

    def list_unsubscribe(self, link_key: str, mailbox: str) -> ListUnsubscribe:
        """The one-click URL and the mailto: pair, both carrying the same token."""
        token = self._token(Purpose.UNSUBSCRIBE, link_key)
        subject = quote(f"unsubscribe {token}")
        return ListUnsubscribe(
            self.at(Purpose.UNSUBSCRIBE, token), f"mailto:{mailbox}?subject={subject}"
        )

    def confirm(self, link_key: str) -> str:
        return self._url(Purpose.CONFIRM, link_key)

    def feed(self, link_key: str, profile_id: int) -> str:
        return self._url(Purpose.FEED, link_key, str(profile_id))

    def feedback(self, link_key: str, profile_id: int, arxiv_id: str) -> str:
        if not arxiv_id or len(arxiv_id) > _ARXIV_ID_MAX:
            raise ValueError(f"{arxiv_id!r} is not an arXiv id")
        return self._url(Purpose.FEEDBACK, link_key, f"{profile_id}:{arxiv_id}")

    def fresh_link(self) -> str:
        return f"{self._base}{FRESH_LINK}"

    def digest_links(self, link_key: str, period: str) -> Links:
        """A digest's own links: view in browser, manage, unsubscribe, and each paper's
        "More like this" / "Not interested" page (``feedback(profile_id, arxiv_id)``).

        A digest carries one feedback link per paper, so its tokens come from minters made
        once per builder (paperboy.tokens.Tokens.subscriber_minter: the same tokens, faster).
        """
        return Links(
            archive=self._minted(Purpose.ARCHIVE, link_key, period),
            manage=self._minted(Purpose.MANAGE, link_key),
            unsubscribe=self._minted(Purpose.UNSUBSCRIBE, link_key),
            feedback=self.paper_feedback(link_key),
        )

    def paper_feedback(self, link_key: str) -> Feedback:
        """One subscriber's feedback links, ``(profile_id, arxiv_id) -> URL`` (a digest's, the
        archive page's): the same URLs ``feedback`` builds."""

        def feedback(profile_id: int, arxiv_id: str) -> str:
            if not arxiv_id or len(arxiv_id) > _ARXIV_ID_MAX:
                raise ValueError(f"{arxiv_id!r} is not an arXiv id")
            return self._minted(Purpose.FEEDBACK, link_key, f"{profile_id}:{arxiv_id}")

        return feedback

    def _minted(self, purpose: Purpose, link_key: str, detail: str = "") -> str:
        minter = self._minters.get(purpose)
        if minter is None:
            minter = self._minters[purpose] = self._tokens.subscriber_minter(purpose)
        return self.at(purpose, minter(link_key, detail))

    def at(self, purpose: Purpose, token: str) -> str:
        """The public URL of a token already made (a feed's own address, say)."""
        return f"{self._base}{path(purpose, token)}"

    # -- reading -----------------------------------------------------------------------------

    def read(self, kind: type[P], token: str) -> P:
        """What a token of ``kind`` says; TokenError if forged, malformed, expired, of another
        purpose, or of an older form that is no longer honoured (TokenRevoked)."""
        return kind.decoded(self._tokens.read_subscriber(kind.PURPOSE, token))

    def read_expired_confirm(self, token: str) -> ConfirmLink:
        """What a confirmation token says whatever its age, for the page that offers a fresh
        one in place of an expired one (its sign-up form, the address filled in). Never to
        confirm with: that is ``read``'s. A forged or cross-purpose token is still TokenError.
        """
        return ConfirmLink.decoded(
            self._tokens.read_subscriber(Purpose.CONFIRM, token, any_age=True)
        )

    # -- forms -------------------------------------------------------------------------------

    def form_field(self, nonce: str) -> str:
        """A form's anti-forgery field: the browser's cookie nonce, signed."""
        return self._tokens.make(Purpose.CSRF, nonce)

    def read_form_field(self, field: str) -> str:
        """The nonce a form field was signed for; TokenError if forged or a day old."""
        return str(self._tokens.read(Purpose.CSRF, field))

    def _url(self, purpose: Purpose, link_key: str, detail: str = "") -> str:
        return self.at(purpose, self._token(purpose, link_key, detail))

    def _token(self, purpose: Purpose, link_key: str, detail: str = "") -> str:
        return self._tokens.for_subscriber(purpose, link_key, detail)


def path(purpose: Purpose, token: str) -> str:
    """The path, on this site, of a link's page (``/m/<token>``)."""
    return f"{PREFIX[purpose]}/{token}"


def _profile_id(text: str) -> int:
    if not (text.isascii() and text.isdecimal()) or len(text) > 18:
        raise _malformed()
    return int(text)


def _malformed() -> TokenError:
    return TokenError("this link is not valid", hint="use the link from your email")
