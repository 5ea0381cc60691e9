"""Parse profile queries: words, "phrases", implicit AND, OR, NOT/-, parentheses, fields, filters,
the meaning atoms ``about:"a topic"`` and ``like:2407.21783,2501.00001``, and their hints
``~word`` / ``~"a phrase"`` (in the same group as an about: or like:).

A hand-written recursive-descent parser: tiny, and it can say exactly where a query went wrong
(``profile 'vision': unexpected ')' at column 14``), which no off-the-shelf grammar gives for free.

Queries come from strangers, so the parser has explicit limits: length, number of terms, nesting
depth (each parenthesis and each NOT or - counts one level), the size of a filter's number, and
how many meaning atoms a query holds (each is a row of the batch's matrix product) and how many
examples one ``like:`` names.
The nesting limit is what keeps every recursive walk over a parsed query (this parser, the
printer, the reference evaluator, the compiler and its programs) far from Python's recursion
limit: at most 32 levels, so at most 66 levels of tree, a few hundred frames for any walker.
"""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum
from typing import NamedTuple

from paperboy.errors import ProfileSyntaxError
from paperboy.profiles.ast import (
    HAS,
    METRICS,
    About,
    And,
    Compare,
    Feature,
    Field,
    Has,
    Hint,
    Like,
    Metric,
    Node,
    Not,
    Or,
    Term,
    positive_semantic,
)

MAX_QUERY_LENGTH = 1000
MAX_DEPTH = 32  # parentheses and NOTs around a term; the tree is at most 2 * MAX_DEPTH + 2 deep
MAX_TERMS = 100  # words, phrases, prefixes and filters
MAX_NUMBER = 1_000_000_000  # upvotes>=N, stars>=N
MIN_PREFIX = 3
MIN_ABOUT, MAX_ABOUT = 3, 300  # characters of an about: topic, spaces collapsed
MAX_LIKE = 20  # arXiv ids in one like:
MAX_SEMANTIC = 10  # about: and like: atoms in one query (each also counts as a term)
MAX_HINTS = 10  # ~hints in one query (each also counts as a term; each is a gather per batch)
_NUMBER = re.compile(r"[0-9]+")  # ASCII digits only: int() would also take "²" or "①" or "٣"
_FIELDS = {f.value: f for f in Field if f is not Field.ANY}
_COMPARE = re.compile(rf"^({'|'.join(METRICS)})(>=|<=|>|<|=)(.*)$", re.IGNORECASE)
_FIELD_PREFIX = re.compile(r"^([A-Za-z]+):")
_LEGACY_TILDE = re.compile(r"(?:(?<=[\s(])|^)(-*)~+")  # a ~ (after any -) that starts a word
_QUOTED_HINT = re.compile(r"(?P<neg>-*)~(?:(?P<name>[A-Za-z]+):)?")  # before a '"'

_SPECIAL = frozenset(":<>=")  # a word with none of these is neither a field, nor a filter
_SEMANTIC = ("about", "like")
_ABOUT_EXAMPLE = 'e.g. about:"speculative decoding for LLM serving"'
_LIKE_EXAMPLE = "e.g. like:2407.21783 or like:2407.21783,2501.00001"
_HINT_EXAMPLE = 'e.g. about:"LLM agents that operate computers" ~GUI ~agents'
# arXiv identifiers: 0704.0001 to 1412.9999 (four digits after the dot), 1501.00001 on (five);
# before April 2007 archive[.CLASS]/YYMMNNN (cs/0101001, math.GT/0309136, hep-th/9901001).
_NEW_ID = re.compile(r"([0-9]{2})(0[1-9]|1[0-2])\.([0-9]{4,5})(?:v[0-9]+)?", re.ASCII)
_OLD_ID = re.compile(
    r"([a-z]+(?:-[a-z]+)?)(?:\.([a-z]{2}))?/([0-9]{2})(0[1-9]|1[0-2])([0-9]{3})(?:v[0-9]+)?",
    re.ASCII | re.IGNORECASE,
)


class TokenKind(StrEnum):
    WORD = "word"
    PHRASE = "phrase"  # in quotes
    FILTER = "filter"  # upvotes>=N, stars>=N, has:...
    ABOUT = "about"
    LIKE = "like"
    LPAREN = "lparen"
    RPAREN = "rparen"
    OR = "or"
    AND = "and"
    NOT = "not"
    MINUS = "minus"  # a leading -
    HINT = "hint"  # a leading ~ (a hint for about:/like:)
    END = "end"


# The kinds as plain names: on Python 3.11 reading an Enum member off its class costs ~80 ns, a
# global name ~15 ns, and the parser asks several times a token.
_WORD = TokenKind.WORD
_PHRASE = TokenKind.PHRASE
_FILTER = TokenKind.FILTER
_ABOUT = TokenKind.ABOUT
_LIKE = TokenKind.LIKE
_LPAREN = TokenKind.LPAREN
_RPAREN = TokenKind.RPAREN
_OR = TokenKind.OR
_AND = TokenKind.AND
_NOT = TokenKind.NOT
_MINUS = TokenKind.MINUS
_HINT = TokenKind.HINT
_END = TokenKind.END
_KEYWORD = {"OR": _OR, "AND": _AND, "NOT": _NOT}
_MEANING_KIND = {"about": _ABOUT, "like": _LIKE}


_TERMS = frozenset({_PHRASE, _WORD, _FILTER, _ABOUT, _LIKE, _HINT})
_MEANINGS = frozenset({_ABOUT, _LIKE})
_NEGATIONS = frozenset({_NOT, _MINUS})
_STARTS_TERM = _TERMS | {_LPAREN} | _NEGATIONS


class Token(NamedTuple):
    kind: TokenKind
    text: str
    column: int  # 1-based
    field: Field = Field.ANY


def parse_stored(query: str, profile: str = "query") -> Node:
    """A query read back from the store: as ``parse``, except that one saved before ~hints
    existed, when a ``~`` belonged to its word (``GPT ~4`` matched what ``GPT 4`` matches), and
    refused now, is read as it was then, each ``~`` that starts a word dropped: an old profile
    keeps matching instead of holding its subscriber's digests back. What people type goes
    through ``parse`` and is refused with the reason."""
    try:
        return parse(query, profile)
    except ProfileSyntaxError as refused:
        legacy = _LEGACY_TILDE.sub(r"\1", query)
        if legacy == query:
            raise
        try:
            return parse(legacy, profile)
        except ProfileSyntaxError:
            raise refused from None


def parse(query: str, profile: str = "query") -> Node:
    """The query's tree; raises ProfileSyntaxError naming the column and what was expected."""
    if len(query) > MAX_QUERY_LENGTH:
        raise ProfileSyntaxError(
            profile, MAX_QUERY_LENGTH + 1, f"the query is longer than {MAX_QUERY_LENGTH} characters"
        )
    tokens = _Lexer(query, profile).tokens()
    if tokens[0].kind is _END:
        raise ProfileSyntaxError(profile, 1, "the query is empty; expected a word or a phrase")
    return _Parser(tokens, profile).parse()


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<paren>[()])
      | (?P<fieldphrase>(?P<neg>-*)(?P<name>[A-Za-z]+):(?=\"))
      | (?P<phrase>\"[^\"]*\"?)
      | (?P<word>[^\s()\"]+)""",
    re.VERBOSE,
)


class _Lexer:
    """Splits a query into tokens with one regular expression, keeping 1-based columns."""

    def __init__(self, text: str, profile: str) -> None:
        self.text, self.profile = text, profile

    def fail(self, column: int, problem: str) -> ProfileSyntaxError:
        return ProfileSyntaxError(self.profile, column, problem)

    def tokens(self) -> list[Token]:
        found: list[Token] = []
        field: Field | None = None  # a field: waiting for its phrase
        about: int | None = None  # the column of an about: waiting for its phrase
        for match in _TOKEN.finditer(self.text):
            kind, column, text = match.lastgroup, match.start() + 1, match.group()
            if kind == "space":
                continue
            if kind == "name":
                kind = "fieldphrase"
            if kind == "paren":
                found.append(Token(_LPAREN if text == "(" else _RPAREN, text, column))
            elif kind == "fieldphrase":
                for _ in match.group("neg"):  # -about:"x", and --about:"x" as explain prints
                    found.append(Token(_MINUS, "-", column))
                    column += 1
                name = match.group("name").lower()
                if name == "like":
                    raise self.fail(
                        column, f"like: takes arXiv ids without quotes, {_LIKE_EXAMPLE}"
                    )
                if name == "about":
                    about = column
                else:
                    field = self._field(name, column)
            elif kind == "phrase" and about is not None:
                phrase = self._phrase(text, Field.ANY, column, empty_ok=True)
                found.append(Token(_ABOUT, phrase.text, about))
                about = None
            elif kind == "phrase":
                found.append(self._phrase(text, field or Field.ANY, column))
                field = None
            elif text == "-" and self.text[match.end() : match.end() + 1] in ('"', "("):
                found.append(Token(_MINUS, "-", column))  # -"a phrase" or -(a group)
            elif (hint := _QUOTED_HINT.fullmatch(text)) and self.text[match.end() :][:1] == '"':
                # ~"a phrase", ~title:"a phrase", and excluded: -~"a phrase" (refused later)
                for _ in hint.group("neg"):
                    found.append(Token(_MINUS, "-", column))
                    column += 1
                found.append(Token(_HINT, "~", column))
                name = hint.group("name")
                if name and name.lower() in _SEMANTIC:
                    raise self.fail(
                        column + 1, f"a ~hint takes a word or a phrase, {_HINT_EXAMPLE}"
                    )
                field = self._field(name, column + 1) if name else None
            else:
                found.append(self._word(text, column, found))
        found.append(Token(_END, "", len(self.text) + 1))
        return found

    def _field(self, name: str, column: int) -> Field:
        field = _FIELDS.get(name.lower())
        if field is None:
            known = ", ".join([*_FIELDS, "has", "upvotes", "stars", *_SEMANTIC])
            raise self.fail(column, f"unknown field {name!r}; expected one of {known}")
        return field

    def _phrase(self, text: str, field: Field, column: int, empty_ok: bool = False) -> Token:
        if len(text) < 2 or not text.endswith('"'):
            raise self.fail(column, 'unterminated phrase: expected a closing "')
        inner = " ".join(text[1:-1].split())
        if not inner and not empty_ok:
            raise self.fail(column, "empty phrase: expected words between the quotes")
        return Token(_PHRASE, inner, column, field)

    def _word(self, word: str, column: int, found: list[Token]) -> Token:
        while word[0] == "-" and len(word) > 1:
            # "-survey" is NOT survey: emit the minus, then lex the rest as its own word
            # (a loop, not recursion: "-----…-a" is as long as the query allows).
            found.append(Token(_MINUS, "-", column))
            word, column = word[1:], column + 1
        if word[0] == "~" and len(word) > 1:  # ~word: the hint mark, then the word itself
            found.append(Token(_HINT, "~", column))
            word, column = word[1:], column + 1
            if word[0] in "-~":
                raise self.fail(column, f"expected a word or a phrase after '~', {_HINT_EXAMPLE}")
        keyword = _KEYWORD.get(word)
        if keyword is not None:
            return Token(keyword, word, column)
        if not _SPECIAL.intersection(word):
            return Token(_WORD, word, column)  # the common case: a plain word
        if _COMPARE.match(word) or word.lower().startswith("has:"):
            return Token(_FILTER, word, column)
        match = _FIELD_PREFIX.match(word)
        if match is None:
            return Token(_WORD, word, column)
        name = match.group(1).lower()
        if name in _SEMANTIC:  # about:word or like:ids; checked by the parser, which counts them
            return Token(_MEANING_KIND[name], word[match.end() :], column)
        field = self._field(name, column)
        rest = word[match.end() :]
        if not rest:
            raise self.fail(
                column + match.end(), f"expected a word or a phrase after '{field.value}:'"
            )
        return Token(_WORD, rest, column + match.end(), field)


class _Parser:
    def __init__(self, tokens: list[Token], profile: str) -> None:
        self.tokens, self.profile, self.index = tokens, profile, 0
        self.depth = 0  # parentheses and NOTs open around the current token
        self.counted: Counter[str] = Counter()  # terms, semantic (about:/like:), hints

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, token: Token, problem: str) -> ProfileSyntaxError:
        return ProfileSyntaxError(self.profile, token.column, problem)

    def parse(self) -> Node:
        node = self.or_expr()
        if self.current.kind is _RPAREN:
            raise self.fail(self.current, "unexpected ')'")
        if self.current.kind is not _END:  # pragma: no cover - or_expr consumes everything else
            raise self.fail(self.current, f"unexpected {self.current.text!r}")
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.current.kind is _OR:
            operator = self.advance()
            if not self._starts_term():
                raise self._missing_term(operator, "OR")
            children.append(self.and_expr())
        return _flat(Or, children)

    def and_expr(self) -> Node:
        hints: list[Token] = []  # where each ~hint of this group was written
        children = [self._hinted_unary(hints)]
        while self._starts_term() or self.current.kind is _AND:
            if self.current.kind is _AND:
                operator = self.advance()
                if not self._starts_term():
                    raise self._missing_term(operator, "AND")
            children.append(self._hinted_unary(hints))
        if hints and not any(positive_semantic(c) for c in children):
            raise self.fail(
                hints[0],
                f"~{hints[0].text} is a hint for about: or like: and needs one beside it in "
                f"the same group, {_HINT_EXAMPLE}; to require the word, write it without '~'",
            )
        return _flat(And, children)

    def _hinted_unary(self, hints: list[Token]) -> Node:
        if self.current.kind is _HINT:
            following = self.tokens[self.index + 1]
            hints.append(following._replace(column=self.current.column))
        return self.unary()

    def unary(self) -> Node:
        negations = 0
        while self.current.kind in _NEGATIONS:
            operator = self.advance()
            if not self._starts_term():
                raise self._missing_term(operator, "NOT" if operator.kind is _NOT else "-")
            if self.current.kind is _HINT:
                raise self.fail(
                    self.current, "a ~hint cannot be excluded; to exclude the word, write -word"
                )
            self._enter(operator)
            negations += 1
        node = self.primary()
        for _ in range(negations):
            node = Not(node)
        self.depth -= negations
        return node

    def primary(self) -> Node:
        token = self.current
        if token.kind is _LPAREN:
            self.advance()
            if self.current.kind is _RPAREN:
                raise self.fail(self.current, "empty parentheses: expected a term")
            self._enter(token)
            node = self.or_expr()
            if self.current.kind is not _RPAREN:
                raise self.fail(token, "missing ')' for this '('")
            self.advance()
            self.depth -= 1
            return node
        if token.kind in _TERMS:
            self._count(token, "terms", MAX_TERMS, "terms (split it into two profiles)")
        if token.kind in _MEANINGS:
            self._count(
                token, "semantic", MAX_SEMANTIC, "about: and like: terms (split the profile)"
            )
            self.advance()
            return self._about(token) if token.kind is _ABOUT else self._like(token)
        if token.kind is _HINT:
            self._count(
                token, "hints", MAX_HINTS, "~hints (keep the few words that name the topic)"
            )
            self.advance()
            return self._hint(token)
        if token.kind is _PHRASE:
            self.advance()
            return Term(token.text, token.field, phrase=True)
        if token.kind is _WORD:
            self.advance()
            return self._word(token)
        if token.kind is _FILTER:
            self.advance()
            return self._filter(token)
        if token.kind is _RPAREN:
            raise self.fail(token, "unexpected ')'")
        if token.kind is _END:
            raise self.fail(token, "unexpected end of query: expected a term")
        raise self.fail(token, f"unexpected {token.text!r}: expected a term")

    def _count(self, token: Token, what: str, limit: int, said: str) -> None:
        """One more of ``what``; refused past ``limit``, at the token's column."""
        self.counted[what] += 1
        if self.counted[what] > limit:
            raise self.fail(token, f"more than {limit} {said}")

    def _enter(self, opener: Token) -> None:
        """One level deeper (a '(' or a NOT); refused past MAX_DEPTH, at the opener's column."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(opener, f"nested more than {MAX_DEPTH} levels")

    def _starts_term(self) -> bool:
        return self.current.kind in _STARTS_TERM

    def _where(self, operator: Token) -> Token:
        return self.current if self.current.kind is not _END else operator

    def _missing_term(self, operator: Token, name: str) -> ProfileSyntaxError:
        if self.current.kind is _RPAREN:
            return self.fail(self.current, "unexpected ')'")
        return self.fail(self._where(operator), f"expected a term after '{name}'")

    def _word(self, token: Token) -> Term:
        text = token.text
        if "*" in text[:-1]:
            raise self.fail(token, "'*' may only end a word, as in diffus*")
        if text.endswith("*"):
            stem = text[:-1]
            if len(stem) < MIN_PREFIX or not stem.isalnum():
                raise self.fail(
                    token, f"a prefix needs at least {MIN_PREFIX} letters or digits before '*'"
                )
            return Term(stem, token.field, prefix=True)
        if not any(c.isalnum() for c in text):
            raise self.fail(token, f"{text!r} has no letters or digits: expected a word")
        return Term(text, token.field)

    def _hint(self, mark: Token) -> Hint:
        """``~word``, ``~prefix*`` or ``~"a phrase"`` (also in a field: ``~title:GUI``)."""
        token = self.current
        if token.kind is _WORD:
            self.advance()
            return Hint(self._word(token))
        if token.kind is _PHRASE:
            if not any(c.isalnum() for c in token.text):  # could never be found, yet weighs
                raise self.fail(token, f'"{token.text}" has no letters or digits: expected a hint')
            self.advance()
            return Hint(Term(token.text, token.field, phrase=True))
        raise self.fail(mark, f"expected a word or a phrase after '~', {_HINT_EXAMPLE}")

    def _filter(self, token: Token) -> Node:
        text = token.text
        if text.lower().startswith("has:"):
            what = text[4:].lower()
            if what not in HAS:
                raise self.fail(token, f"unknown has:{what}; expected has:code or has:project")
            return Has(Feature(what))
        match = _COMPARE.match(text)
        assert match is not None
        metric, op, value = match.group(1).lower(), match.group(2), match.group(3)
        if not _NUMBER.fullmatch(value):
            raise self.fail(token, f"expected a whole number after '{metric}{op}' (digits 0-9)")
        digits = value.lstrip("0") or "0"
        if len(digits) > len(str(MAX_NUMBER)) or int(digits) > MAX_NUMBER:
            raise self.fail(token, f"{metric}{op} takes at most {MAX_NUMBER}")
        assert metric in METRICS
        return Compare(Metric(metric), op, int(digits))

    def _about(self, token: Token) -> About:
        """``about:"a topic"`` or ``about:word``: 3 to 300 characters with a letter or digit."""
        text = token.text
        if not text:
            raise self.fail(token, f"expected a topic after 'about:', {_ABOUT_EXAMPLE}")
        if len(text) < MIN_ABOUT or not any(c.isalnum() for c in text):
            raise self.fail(
                token,
                f"about: needs a topic of at least {MIN_ABOUT} characters in words, "
                + _ABOUT_EXAMPLE,
            )
        if len(text) > MAX_ABOUT:
            raise self.fail(
                token, f"about: takes at most {MAX_ABOUT} characters; say the topic in a sentence"
            )
        if text.endswith("*"):
            raise self.fail(token, f"about: takes words, not a prefix*; {_ABOUT_EXAMPLE}")
        return About(text)

    def _like(self, token: Token) -> Like:
        """``like:ID[,ID...]``: up to 20 arXiv ids, each checked, versions dropped, no repeats."""
        if not token.text:
            raise self.fail(token, f"expected arXiv ids after 'like:', {_LIKE_EXAMPLE}")
        found: list[str] = []
        column = token.column + len("like:")
        for count, written in enumerate(token.text.split(","), start=1):
            if not written:
                raise self.fail(
                    token._replace(column=column),
                    "expected an arXiv id after ',' (no spaces: like:2407.21783,2501.00001)",
                )
            if count > MAX_LIKE:
                raise self.fail(
                    token._replace(column=column), f"like: takes at most {MAX_LIKE} arXiv ids"
                )
            arxiv_id = arxiv_id_of(written)
            if arxiv_id is None:
                raise self.fail(
                    token._replace(column=column),
                    f"{written!r} is not an arXiv id; expected one like 2407.21783 "
                    "(or an old-style one like cs/0101001)",
                )
            if arxiv_id not in found:
                found.append(arxiv_id)
            column += len(written) + 1
        return Like(tuple(found))


def arxiv_id_of(text: str) -> str | None:
    """The canonical arXiv id (no version) written in ``text``, or None if it is not one."""
    new = _NEW_ID.fullmatch(text)
    if new is not None:
        year, month, number = new.groups()
        if len(number) != (4 if int(year) < 15 else 5) or year + month < "0704":
            return None
        return f"{year}{month}.{number}"
    old = _OLD_ID.fullmatch(text)
    if old is not None:
        archive, subject, year, month, number = old.groups()
        subject = f".{subject.upper()}" if subject else ""
        return f"{archive.lower()}{subject}/{year}{month}{number}"
    return None


def _flat(kind: type[And] | type[Or], children: list[Node]) -> Node:
    """One child stands alone; nested nodes of the same kind merge (a (b c) is a b c), except
    a group with ~hints: they belong to its own atoms (about:"x" (about:"y" ~a) is not ~a's
    for x)."""
    flat: list[Node] = []
    for child in children:
        if isinstance(child, kind) and not any(isinstance(c, Hint) for c in child.children):
            flat.extend(child.children)
        else:
            flat.append(child)
    return flat[0] if len(flat) == 1 else kind(tuple(flat))
