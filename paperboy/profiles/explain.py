"""How a query was understood: its tree printed with every group in parentheses (hints as
``~word``), and warnings for what people misread: the grouping (AND binds tighter than OR, so
`a OR b -c` keeps c under a), and plain words beside an about: or like:, which are required
where ``~word`` hints were likely meant."""

from __future__ import annotations

from paperboy.profiles.ast import About, And, Hint, Like, Node, Not, Or, Term, to_query
from paperboy.profiles.parser import MAX_HINTS, TokenKind, _Lexer


def grouped(node: Node) -> str:
    """The query with explicit grouping: each AND and OR of several parts in parentheses,
    exclusions written -x and hints ~x, e.g. ("variational inference" OR (bayesian* -survey)),
    (about:"computer-use agents" ~GUI ~agents)."""
    match node:
        case Not(child):
            return "-" + grouped(child)
        case And(children):
            return "(" + " ".join(grouped(c) for c in children) + ")"
        case Or(children):
            return "(" + " OR ".join(grouped(c) for c in children) + ")"
    return to_query(node)


def warnings(node: Node, query: str | None = None) -> list[str]:
    """One sentence for each OR whose alternatives carry their own exclusion (given the text,
    only when an exclusion was written beside an OR without parentheses around its side), and
    one for each group that requires plain words beside an about: or like:."""
    found: list[str] = []
    if query is None or _mixed(query):
        _walk(node, found)
    _required_beside_meaning(node, found, MAX_HINTS - _hint_count(node))
    return list(dict.fromkeys(found))


def _hint_count(node: Node) -> int:
    match node:
        case Hint():
            return 1
        case Not(child):
            return _hint_count(child)
        case And(children) | Or(children):
            return sum(_hint_count(c) for c in children)
    return 0


def _walk(node: Node, found: list[str]) -> None:
    match node:
        case Not(child):
            _walk(child, found)
        case And(children):
            for c in children:
                _walk(c, found)
        case Or(children):
            found.extend(_excluded(node))
            for c in children:
                _walk(c, found)


def _required_beside_meaning(node: Node, found: list[str], room: int) -> None:
    """For each group (AND) holding an about: or like: and plain words: the words are
    required, so a paper on the topic without them is left out; written ``~word`` they would
    be hints (paperboy.profiles.ast.Hint), as many as the query has ``room`` for. Words under a
    NOT are left alone: excluding is meant."""
    match node:
        case And(children):
            atoms = [c for c in children if isinstance(c, About | Like)]
            words = [c for c in children if isinstance(c, Term)]
            if atoms and words:
                found.append(_words_are_required(words, atoms[0], room))
            for c in children:
                _required_beside_meaning(c, found, room)
        case Or(children):
            for c in children:
                _required_beside_meaning(c, found, room)


def _words_are_required(words: list[Term], atom: About | Like, room: int) -> str:
    """``gui and agents are required beside about: (AND), … write ~gui ~agents …``."""
    listed = [to_query(w) for w in words]
    shown = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
    if len(listed) == 1:
        are, lacking, them, hints = "is", "it", "it", "a hint"
    else:
        are, lacking, them, hints = "are", "any of them", "them", "hints"
    kind = "about:" if isinstance(atom, About) else "like:"
    said = f"{shown} {are} required beside {kind} (AND), so close papers lacking {lacking} "
    said += "are left out"
    if room <= 0:
        return f"{said}; the query already holds the most ~hints a query may ({MAX_HINTS})"
    if len(words) > room:  # the suggestion must parse: name the words that fit
        chosen = " ".join(to_query(Hint(w)) for w in words[:room])
        return (
            f"{said}; a query holds at most {MAX_HINTS} ~hints: write {chosen} to make the "
            "words that name the topic best hints (or choose others)"
        )
    marked = " ".join(to_query(Hint(w)) for w in words)
    return (
        f"{said}; write {marked} to make {them} {hints}: never required, a paper with {them} "
        "needs less closeness"
    )


def _excluded(node: Or) -> list[str]:
    """What an OR's exclusions really apply to, and how to write them for every alternative."""
    said: list[str] = []
    kept: list[Node] = []
    exclusions: dict[Node, list[Node]] = {}  # each exclusion and the words it applies to
    for alternative in node.children:
        if _only_exclusions(alternative):
            said.append(
                f"{written(alternative)} is an alternative of its own (AND binds tighter than "
                "OR): it matches every paper it does not exclude"
            )
        elif isinstance(alternative, And) and any(isinstance(c, Not) for c in alternative.children):
            rest: list[Node] = [c for c in alternative.children if not isinstance(c, Not)]
            kept.append(_joined(rest))
            for c in alternative.children:
                if isinstance(c, Not):
                    exclusions.setdefault(c, rest)
        else:
            kept.append(alternative)
    if exclusions and len(kept) > 1:
        every = written(And((Or(tuple(kept)), *exclusions)))
        said.extend(
            f"{written(x)} applies only to {grouped(_joined(rest))} (AND binds tighter than OR); "
            f"to exclude it from every alternative, write: {every}"
            for x, rest in exclusions.items()
        )
    return said


def _only_exclusions(node: Node) -> bool:
    return isinstance(node, Not) or (
        isinstance(node, And) and all(isinstance(c, Not) for c in node.children)
    )


def _joined(parts: list[Node]) -> Node:
    return parts[0] if len(parts) == 1 else And(tuple(parts))  # an AND holds a positive part


def written(node: Node, parent: type | None = None) -> str:
    """The query as people write it: -x for NOT x, parentheses only where they are needed."""
    match node:
        case Not(child):
            return "-" + written(child, Not)
        case And(children):
            text = " ".join(written(c, And) for c in children)
            return f"({text})" if parent in (Not, And) else text
        case Or(children):
            text = " OR ".join(written(c, Or) for c in children)
            return f"({text})" if parent in (Not, And) else text
    return to_query(node)


def _mixed(query: str) -> bool:
    """Whether some parenthesised group (or the whole query) holds both an OR and an exclusion
    (- or NOT) at its own level: there the exclusion binds to one alternative only."""
    groups: list[set[str]] = [set()]
    mixed = False
    for token in _Lexer(query, "query").tokens():
        if token.kind is TokenKind.LPAREN:
            groups.append(set())
        elif token.kind is TokenKind.RPAREN and len(groups) > 1:
            mixed |= {"or", "not"} <= groups.pop()
        elif token.kind in (TokenKind.OR, TokenKind.NOT, TokenKind.MINUS):
            groups[-1].add("or" if token.kind is TokenKind.OR else "not")
    return mixed or any({"or", "not"} <= g for g in groups)
