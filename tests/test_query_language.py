"""The profile query language on real papers: what each query must and must not match."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.errors import ProfileSyntaxError
from paperboy.profiles.ast import (
    About,
    And,
    Compare,
    Field,
    Hint,
    Like,
    Metric,
    Not,
    Or,
    Term,
    to_query,
)
from paperboy.profiles.matcher import Matcher, ProfileSpec
from paperboy.profiles.parser import parse
from paperboy.profiles.reference import matches
from tests.papers import by_id, saved_papers

# (query, papers it must match, papers it must not match), facts read from the captures.
TABLE = [
    # the user's own keywords
    ('"variational inference"', [], ["2406.04329"]),  # says "variational" but not the phrase
    ("variational", ["2406.04329"], ["2403.13802"]),
    ("high-fidelity", ["2403.13535", "2406.04338"], ["2403.13802"]),
    ('"high fidelity"', ["2403.13535", "2406.04338"], []),  # hyphen and space are equal
    # case, whole words, plurals, accents
    ("DIFFUSION", ["2403.13802", "2406.07792"], ["2407.21783"]),
    ("cat", [], ["2406.08392"]),  # its abstract says "concatenate"
    ("concatenat*", ["2406.08392"], ["2403.13802"]),
    ("title:model", ["2407.21783", "2403.13802"], ["2605.05242"]),  # "Models" and "Model"
    ("author:celebi", ["2407.21783"], ["2403.13802"]),  # Onur Çelebi
    ('author:"Jimmy Lin"', ["2605.05242"], ["2407.21783"]),
    ('author:"Lin Jimmy"', [], ["2605.05242"]),
    # fields and filters
    ('org:"tiger lab"', ["2605.05242"], ["2403.13802"]),  # TIGER-Lab
    ('keyword:"agentic search"', ["2605.05242"], ["2403.13248"]),
    ("title:llama", ["2407.21783", "2302.13971"], ["2403.13248"]),
    ("upvotes>=80", ["2605.05242"], ["2403.13248"]),
    ("has:code retrieval", ["2605.05242"], ["2403.13248"]),
    ("stars>=100", ["2605.05242"], ["2403.13248"]),
    # boolean structure
    ("diffusion -video", ["2403.13802"], ["2406.07792"]),
    ("(video OR audio) diffusion", ["2406.07792", "2406.07686"], ["2403.13802"]),
    ("llama OR mamba", ["2407.21783", "2403.13802"], ["2403.13248"]),
    ("NOT diffusion", ["2407.21783"], ["2403.13802"]),
]


@pytest.mark.parametrize(("query", "hit", "miss"), TABLE, ids=[t[0] for t in TABLE])
def test_query_on_real_papers(query: str, hit: list[str], miss: list[str]) -> None:
    node = parse(query)
    result = {
        m.paper.arxiv_id for m in Matcher([ProfileSpec(1, 1, "t", query)]).match(saved_papers())
    }
    for arxiv_id in hit:
        assert matches(node, by_id(arxiv_id)), f"{query} should match {arxiv_id}"
        assert arxiv_id in result
    for arxiv_id in miss:
        assert not matches(node, by_id(arxiv_id)), f"{query} should not match {arxiv_id}"
        assert arxiv_id not in result


def test_the_tree_of_a_full_query() -> None:
    node = parse('(diffusion OR "flow matching") video -survey title:llm* upvotes>=5')
    assert isinstance(node, And)
    assert node.children[0] == Or((Term("diffusion"), Term("flow matching", phrase=True)))
    assert node.children[2] == Not(Term("survey"))
    assert node.children[3] == Term("llm", Field.TITLE, prefix=True)
    assert to_query(node) == '(diffusion OR "flow matching") video NOT survey title:llm* upvotes>=5'


_HINT_EG = 'e.g. about:"LLM agents that operate computers" ~GUI ~agents'
_NEEDS_MEANING = (
    f"is a hint for about: or like: and needs one beside it in the same group, {_HINT_EG}; "
    "to require the word, write it without '~'"
)
_NOT_EXCLUDED = "a ~hint cannot be excluded; to exclude the word, write -word"
_AFTER_TILDE = f"expected a word or a phrase after '~', {_HINT_EG}"

MALFORMED = [
    ("vision", "(diffusion OR video", "missing ')' for this '(' at column 1"),
    ("vision", "diffusion video)", "unexpected ')' at column 16"),
    ("vision", "video (cats OR dogs) )", "unexpected ')' at column 22"),
    ("vision", "diffusion OR", "expected a term after 'OR' at column 11"),
    ("vision", "NOT", "expected a term after 'NOT' at column 1"),
    ("vision", 'title:"neural radiance', 'unterminated phrase: expected a closing " at column 7'),
    ("vision", '""', "empty phrase"),
    ("vision", "venue:neurips", "unknown field 'venue'"),
    (
        "vision",
        "upvotes>=many",
        "expected a whole number after 'upvotes>=' (digits 0-9) at column 1",
    ),
    ("vision", "has:paper", "unknown has:paper"),
    ("vision", "di*", "a prefix needs at least 3 letters"),
    ("vision", "dif*usion", "'*' may only end a word"),
    ("vision", "", "the query is empty"),
    ("vision", "()", "empty parentheses: expected a term at column 2"),
    ("vision", "title: diffusion", "expected a word or a phrase after 'title:' at column 7"),
    # meaning atoms (issue 16)
    ("vision", 'video about:"rl"', "about: needs a topic of at least 3 characters"),
    ("vision", "about:", "expected a topic after 'about:', e.g. about:\"speculative decoding"),
    (
        "vision",
        'x about:""',
        "expected a topic after 'about:', e.g. about:\"speculative decoding for LLM serving\""
        " at column 3",
    ),
    ("vision", 'about:"...."', "about: needs a topic of at least 3 characters in words"),
    ("vision", "about:diffus*", "about: takes words, not a prefix*"),
    (
        "vision",
        'about:"' + "a" * 301 + '"',
        "about: takes at most 300 characters; say the topic in a sentence at column 1",
    ),
    ("vision", 'about:"open', 'unterminated phrase: expected a closing " at column 7'),
    (
        "vision",
        "like:",
        "expected arXiv ids after 'like:', e.g. like:2407.21783 or like:2407.21783,2501.00001"
        " at column 1",
    ),
    ("vision", "like:2407.21783,", "expected an arXiv id after ',' (no spaces"),
    ("vision", "like:2407.21783,,2501.00001", "expected an arXiv id after ',' (no spaces"),
    ("vision", "a like:2407.21783,2413.00001", "'2413.00001' is not an arXiv id; expected one"),
    ("vision", "like:2407.2178", "'2407.2178' is not an arXiv id"),  # five digits since 2015
    ("vision", "like:1412.00001", "'1412.00001' is not an arXiv id"),  # four before
    ("vision", "like:0612.0001", "'0612.0001' is not an arXiv id"),  # old style until 0703
    ("vision", "like:cs/010100", "'cs/010100' is not an arXiv id"),
    ("vision", "like:llama", "'llama' is not an arXiv id"),
    (
        "vision",
        'like:"2407.21783"',
        "like: takes arXiv ids without quotes, e.g. like:2407.21783 or like:2407.21783,2501.00001"
        " at column 1",
    ),
    (
        "vision",
        "-like:",
        "expected arXiv ids after 'like:', e.g. like:2407.21783 or like:2407.21783,2501.00001"
        " at column 2",
    ),
    ("vision", "mood:x", "expected one of title, abstract, author, org, keyword, has, upvotes"),
    # ~hints: only beside a positive about: or like: of the same group, never excluded
    ("vision", "~gui", f"~gui {_NEEDS_MEANING} at column 1"),
    ("vision", "gui ~agents", f"~agents {_NEEDS_MEANING} at column 5"),
    ("vision", 'gui ~"computer use"', f"~computer use {_NEEDS_MEANING} at column 5"),
    ("vision", 'about:"x y" OR ~a', f"~a {_NEEDS_MEANING} at column 16"),
    ("vision", 'about:"xyz" (~a ~b)', f"~a {_NEEDS_MEANING} at column 14"),
    ("vision", 'like:2407.21783 (~a OR about:"yyy")', f"~a {_NEEDS_MEANING} at column 18"),
    ("vision", '-about:"xyz" ~a', f"~a {_NEEDS_MEANING} at column 14"),
    ("vision", 'NOT about:"xyz" ~title:gui', f"~gui {_NEEDS_MEANING} at column 17"),
    ("vision", 'about:"xyz" -~a', f"{_NOT_EXCLUDED} at column 14"),
    ("vision", 'about:"xyz" NOT ~a', f"{_NOT_EXCLUDED} at column 17"),
    ("vision", 'about:"xyz" NOT NOT ~"a b"', f"{_NOT_EXCLUDED} at column 21"),
    ("vision", 'about:"xyz" ~-a', f"{_AFTER_TILDE} at column 14"),
    ("vision", 'about:"xyz" ~~a', f"{_AFTER_TILDE} at column 14"),
    ("vision", 'about:"xyz" ~-"a b"', f"{_AFTER_TILDE} at column 14"),
    ("vision", 'about:"xyz" ~OR', f"{_AFTER_TILDE} at column 13"),
    ("vision", 'about:"xyz" ~AND', f"{_AFTER_TILDE} at column 13"),
    ("vision", 'about:"xyz" ~upvotes>=3', f"{_AFTER_TILDE} at column 13"),
    ("vision", 'about:"xyz" ~has:code', f"{_AFTER_TILDE} at column 13"),
    ("vision", 'about:"xyz" ~like:2407.21783', f"{_AFTER_TILDE} at column 13"),
    ("vision", 'about:"xyz" ~about:qqq', f"{_AFTER_TILDE} at column 13"),
    (
        "vision",
        'about:"xyz" ~about:"qqq"',
        f"a ~hint takes a word or a phrase, {_HINT_EG} at column 14",
    ),
    (
        "vision",
        'about:"xyz" ~Like:"x y"',
        f"a ~hint takes a word or a phrase, {_HINT_EG} at column 14",
    ),
    ("vision", 'about:"xyz" ~', "'~' has no letters or digits: expected a word at column 13"),
    ("vision", 'about:"xyz" ~ a', "'~' has no letters or digits: expected a word at column 13"),
    ("vision", 'about:"xyz" ~venue:"a b"', "unknown field 'venue'"),
    (
        "vision",
        'about:"xyz" ~di*',
        "a prefix needs at least 3 letters or digits before '*' at column 14",
    ),
    ("vision", 'about:"xyz" ~""', "empty phrase: expected words between the quotes at column 14"),
    ("vision", 'about:"xyz" ~"a b', 'unterminated phrase: expected a closing " at column 14'),
    ("vision", 'about:"xyz" ~title:', "expected a word or a phrase after 'title:' at column 20"),
]


@pytest.mark.parametrize("query", ['about:"xyz" -~"a b"', 'about:"xyz" -~title:"a b"'])
def test_an_excluded_hint_phrase_says_a_hint_cannot_be_excluded(query: str) -> None:
    with pytest.raises(ProfileSyntaxError) as info:
        parse(query, "vision")
    assert f"{_NOT_EXCLUDED} at column 14" in str(info.value)


def test_the_column_of_a_bad_arxiv_id_in_a_list() -> None:
    with pytest.raises(ProfileSyntaxError) as info:
        parse("video like:2407.21783,2501.0x001", "vision")
    assert info.value.column == len("video like:2407.21783,") + 1
    ids = ",".join(f"2501.{i:05d}" for i in range(21))
    with pytest.raises(ProfileSyntaxError) as info:
        parse(f"like:{ids}", "vision")
    assert "like: takes at most 20 arXiv ids" in str(info.value)
    assert info.value.column == len("like:") + 20 * len("2501.00000,") + 1
    assert parse(f"like:{ids.rsplit(',', 1)[0]}") == Like(tuple(f"2501.{i:05d}" for i in range(20)))


MEANING = [
    (
        'about:"speculative decoding for LLM serving" -survey upvotes>=3',
        And(
            (
                About("speculative decoding for LLM serving"),
                Not(Term("survey")),
                Compare(Metric.UPVOTES, ">=", 3),
            )
        ),
        'about:"speculative decoding for LLM serving" NOT survey upvotes>=3',
    ),
    ("like:2407.21783", Like(("2407.21783",)), "like:2407.21783"),
    # prefixes in any case; versions dropped; repeats dropped; old-style ids canonical
    (
        "LIKE:2407.21783v2,2407.21783,CS/0101001v1,math.gt/0309136",
        Like(("2407.21783", "cs/0101001", "math.GT/0309136")),
        "like:2407.21783,cs/0101001,math.GT/0309136",
    ),
    ("like:0704.0001,1412.9999", Like(("0704.0001", "1412.9999")), "like:0704.0001,1412.9999"),
    ('-about:"surveys"', Not(About("surveys")), 'NOT about:"surveys"'),
    ('NOT About:"  long   context  "', Not(About("long context")), 'NOT about:"long context"'),
    # one word needs no quotes; it is printed with them
    ("about:robotics diffusion", And((About("robotics"), Term("diffusion"))), None),
    ("-about:robotics", Not(About("robotics")), 'NOT about:"robotics"'),
    (
        'title:llama OR (about:"retrieval (RAG) agents" like:2501.00001)',
        Or(
            (
                Term("llama", Field.TITLE),
                And((About("retrieval (RAG) agents"), Like(("2501.00001",)))),
            )
        ),
        'title:llama OR about:"retrieval (RAG) agents" like:2501.00001',  # AND binds tighter
    ),
    # ~hints: a word, a prefix, a phrase, in a field; kept where they were written
    (
        'about:"LLM agents that operate computers" ~GUI ~agents',
        And((About("LLM agents that operate computers"), Hint(Term("GUI")), Hint(Term("agents")))),
        None,
    ),
    (
        'like:2407.21783 ~agent* AND ~"Computer  Use"',
        And(
            (
                Like(("2407.21783",)),
                Hint(Term("agent", prefix=True)),
                Hint(Term("Computer Use", phrase=True)),  # spaces in a phrase are one
            )
        ),
        'like:2407.21783 ~agent* ~"Computer Use"',
    ),
    (
        '~TITLE:GUI about:"computer use agents" ~Abstract:"screen shots"',
        And(
            (
                Hint(Term("GUI", Field.TITLE)),
                About("computer use agents"),
                Hint(Term("screen shots", Field.ABSTRACT, phrase=True)),
            )
        ),
        '~title:GUI about:"computer use agents" ~abstract:"screen shots"',
    ),
    (
        'about:"xyz" (like:2407.21783 OR about:"yyy" ~a) ~b',
        And(
            (
                About("xyz"),
                Or((Like(("2407.21783",)), And((About("yyy"), Hint(Term("a")))))),
                Hint(Term("b")),
            )
        ),
        None,
    ),
    (
        '(about:"agents" ~gui) OR title:llama',
        Or((And((About("agents"), Hint(Term("gui")))), Term("llama", Field.TITLE))),
        'about:"agents" ~gui OR title:llama',
    ),
    (
        '-about:"surveys" about:"agents" ~gui',
        And((Not(About("surveys")), About("agents"), Hint(Term("gui")))),
        'NOT about:"surveys" about:"agents" ~gui',
    ),
    (
        '(about:"agents" OR gui) ~tool*',  # through an OR: the about: takes the hint
        And((Or((About("agents"), Term("gui"))), Hint(Term("tool", prefix=True)))),
        None,
    ),
]


@pytest.mark.parametrize(("query", "tree", "printed"), MEANING, ids=[m[0][:30] for m in MEANING])
def test_about_and_like_parse_and_print(query: str, tree: object, printed: str | None) -> None:
    node = parse(query)
    assert node == tree
    assert to_query(node) == (printed or query.replace("about:robotics", 'about:"robotics"'))
    assert parse(to_query(node)) == node


def test_meaning_atoms_count_against_the_limits() -> None:
    ten = " OR ".join(f'about:"topic {i}"' for i in range(10))
    assert isinstance(parse(ten), Or)
    with pytest.raises(ProfileSyntaxError) as info:
        parse(ten + " OR like:2407.21783", "many")
    assert "more than 10 about: and like: terms" in str(info.value)
    assert info.value.column == len(ten) + len(" OR ") + 1
    words = " ".join(f"w{i}" for i in range(99))
    with pytest.raises(ProfileSyntaxError) as info:
        parse(f'{words} about:"one more" like:2407.21783', "many")
    assert "more than 100 terms" in str(info.value)
    deep = "(" * 32 + 'about:"deep topic"' + ")" * 32
    assert parse(deep) == About("deep topic")
    with pytest.raises(ProfileSyntaxError, match="nested more than 32 levels"):
        parse("-" * 33 + "about:abc")


@pytest.mark.parametrize(
    ("name", "query", "message"), MALFORMED, ids=[m[1][:40] or "empty" for m in MALFORMED]
)
def test_malformed_queries_name_the_column(name: str, query: str, message: str) -> None:
    with pytest.raises(ProfileSyntaxError) as info:
        parse(query, name)
    assert message in str(info.value)
    assert str(info.value).startswith("profile 'vision': ")
    assert isinstance(info.value, ValueError)


# Random queries: sequences of pieces people type, many of them malformed on purpose.
PIECES = st.sampled_from(
    [
        "diffusion",
        "Video",
        "llama",
        "models",
        "high-fidelity",
        "agent*",
        "retriev*",
        '"language model"',
        '"video generation"',
        "(",
        ")",
        "OR",
        "AND",
        "NOT",
        "-",
        "-survey",
        "title:llama",
        'abstract:"reinforcement learning"',
        "author:lin",
        'org:"tiger lab"',
        "keyword:rl",
        "upvotes>=10",
        "stars>5",
        "has:code",
        "has:project",
        "naïve",
        "Çelebi",
        "3D",
        "GPT-4",
        'about:"speculative decoding"',
        "about:robotics",
        '-about:"surveys of the field"',
        "like:2407.21783",
        "like:2407.21783,cs/0101001",
        "Like:2403.13802v2",
        'ABOUT:"rl"',
        "like:2413.00001",
    ]
)
QUERIES = st.lists(PIECES, min_size=1, max_size=9).map(" ".join)

# Generated meaning atoms: any topic text (quotes are the one character it cannot hold), any id.
NEW_IDS = st.builds(
    lambda y, m, n, v: f"{y:02d}{m:02d}.{n:05d}{v}",
    st.integers(15, 99),
    st.integers(1, 12),
    st.integers(0, 99999),
    st.sampled_from(["", "v1", "v12"]),
)
OLD_IDS = st.builds(
    lambda a, y, m, n: f"{a}/{y:02d}{m:02d}{n:03d}",
    st.sampled_from(["cs", "hep-th", "math.GT", "Cond-Mat", "q-bio.NC"]),
    st.integers(0, 99),
    st.integers(1, 12),
    st.integers(0, 999),
)
ABOUT_TEXT = st.text(st.characters(exclude_characters='"', codec="utf-8"), min_size=1, max_size=40)
ATOMS = st.one_of(
    ABOUT_TEXT.map(lambda t: f'about:"{t}"'),
    st.from_regex(r"[A-Za-z][A-Za-z0-9-]{2,12}", fullmatch=True).map(lambda w: f"about:{w}"),
    st.lists(st.one_of(NEW_IDS, OLD_IDS), min_size=1, max_size=22).map(
        lambda ids: "like:" + ",".join(ids)
    ),
)
# ~hints: words the captured papers say (so a hint is found in some and not in others) and any
# word; alone (valid only beside an about:/like: of its group) or written with an atom.
HINT_WORDS = st.one_of(
    st.sampled_from(
        [
            "diffusion",
            "Video",
            "llama",
            "agent*",
            "model",
            "GUI",
            "reason*",
            '"language model"',
            '"video generation"',
            "title:llama",
            'title:"language models"',
            "abstract:agent*",
            'keyword:"reinforcement learning"',
            "author:lin",
        ]
    ),
    st.from_regex(r"[A-Za-z][A-Za-z0-9-]{2,12}", fullmatch=True),
)
HINTS = HINT_WORDS.map(lambda w: "~" + w)
HINTED = st.builds(
    lambda atom, hints, where: {
        "after": f"{atom} {hints}",
        "before": f"{hints} {atom}",
        "group": f"({atom} {hints})",
    }[where],
    ATOMS,
    st.lists(HINTS, min_size=1, max_size=3).map(" ".join),
    st.sampled_from(["after", "before", "group"]),
)
# A group inside a hinted group, through an OR: its atoms take the outer hints, then its own.
NESTED = st.builds(
    lambda atom, inner, other, hints: f"{atom} ({inner} OR {other}) {hints}",
    ATOMS,
    HINTED,
    st.one_of(ATOMS, HINTED, HINT_WORDS),
    st.lists(HINTS, min_size=1, max_size=2).map(" ".join),
)
MEANING_QUERIES = st.lists(
    st.one_of(
        ATOMS,
        HINTED,
        HINTS,
        NESTED,
        PIECES,
        st.sampled_from(["-", "NOT", "OR"]).map(lambda o: o + " "),
    ),
    min_size=1,
    max_size=8,
).map(lambda parts: " ".join(p.strip() if p.endswith(" ") else p for p in parts))


@settings(max_examples=300, deadline=None)
@given(MEANING_QUERIES)
def test_queries_with_meaning_atoms_round_trip(query: str) -> None:
    try:
        node = parse(query)
    except ProfileSyntaxError as e:
        column = e.column
        assert 1 <= column <= len(query) + 1
        return
    printed = to_query(node)
    assert parse(printed) == node
    assert to_query(parse(printed)) == printed


@settings(max_examples=400, deadline=None)
@given(QUERIES)
def test_every_accepted_query_round_trips_through_its_printed_form(query: str) -> None:
    try:
        node = parse(query)
    except ProfileSyntaxError:
        return
    assert parse(to_query(node)) == node


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_profile_syntax_error(query: str) -> None:
    try:
        node = parse(query)
    except ProfileSyntaxError as e:
        column = e.column
        assert 1 <= column <= len(query) + 1
        return
    assert parse(to_query(node)) == node


# Hostile queries (issue 13): every one is refused with a ProfileSyntaxError naming the column,
# never a RecursionError, a bare ValueError or an int() that takes seconds.
def _deepest(levels: int) -> str:
    """A query nested ``levels`` parentheses deep, each level an OR over an AND: the most
    tree depth per level the grammar allows (Or > And > Or > ...)."""
    query = "core"
    for level in reversed(range(levels)):
        query = f"(p{level} OR q{level} {query})"
    return query


HOSTILE = [
    ("-" * 976 + "a", "nested more than 32 levels at column 33"),
    ("-" * 33 + "a", "nested more than 32 levels at column 33"),
    ("NOT " * 240 + "a", "nested more than 32 levels at column 129"),
    ("(" * 300 + "a" + ")" * 300, "nested more than 32 levels at column 33"),
    ("(" * 499 + "a", "nested more than 32 levels at column 33"),
    ("-(" * 17 + "a" + ")" * 17, "nested more than 32 levels at column 33"),
    (_deepest(33), "nested more than 32 levels at column 365"),
    (
        " ".join(f"w{i}" for i in range(101)),
        "more than 100 terms (split it into two profiles) at column 391",
    ),
    (
        " OR ".join("ab" for _ in range(101)),
        "more than 100 terms (split it into two profiles) at column 601",
    ),
    ("upvotes>=²", "expected a whole number after 'upvotes>=' (digits 0-9) at column 1"),
    ("upvotes>=①", "expected a whole number after 'upvotes>=' (digits 0-9) at column 1"),
    ("stars>=٣", "expected a whole number after 'stars>=' (digits 0-9) at column 1"),
    ("video upvotes>=" + "9" * 900, "upvotes>= takes at most 1000000000 at column 7"),
    ("stars<10000000000", "stars< takes at most 1000000000 at column 1"),
    ("-" * 1001, "the query is longer than 1000 characters"),
]


@pytest.mark.parametrize(("query", "message"), HOSTILE, ids=[q[:24] for q, _ in HOSTILE])
def test_hostile_queries_are_refused_with_a_clear_error(query: str, message: str) -> None:
    with pytest.raises(ProfileSyntaxError) as info:
        parse(query, "evil")
    assert message in str(info.value)
    assert str(info.value).startswith("profile 'evil': ")


def test_the_limits_themselves_are_accepted() -> None:
    assert parse("-" * 32 + "a") is not None
    assert parse("(" * 32 + "a" + ")" * 32) == Term("a")
    assert len(to_query(parse(_deepest(32)))) > 0
    assert parse("upvotes>=1000000000") == Compare(Metric.UPVOTES, ">=", 1_000_000_000)
    assert parse("stars>=000000000000042") == Compare(Metric.STARS, ">=", 42)
    wide = " OR ".join(f"w{i}" for i in range(100))
    assert isinstance(parse(wide), Or)


def _frames() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1  # type: ignore[assignment]
    return depth


def test_the_deepest_accepted_queries_need_little_stack() -> None:
    """Every walker of a query (parser, printer, reference evaluator, compiler, matcher,
    highlighter, digest entry) fits in 250 frames, a quarter of Python's default limit: the
    rest is left to whoever calls them (a web framework, a thread, the CLI)."""
    from paperboy.digest import entry
    from paperboy.profiles.ast import positive_semantic, positive_terms, semantic_atoms
    from tests.test_semantic_query import FakeMeaning

    queries = [
        _deepest(32),
        "-(" * 16 + "diffusion" + ")" * 16,
        "NOT " * 32 + "video",
        _deepest(32).replace("core", 'about:"deep topic" like:2407.21783'),
        "-(" * 16 + 'about:"deep topic"' + ")" * 16,
    ]
    printed = []
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + 250)  # measured: to_query needs 196, the others fewer
    try:
        for query in queries:
            node = parse(query)
            printed.append((node, to_query(node)))
            positive_terms(node)
            semantic_atoms(node)
            positive_semantic(node)
            for paper in saved_papers():
                matches(node, paper, FakeMeaning.is_close)
            meaning = FakeMeaning()
            for match in Matcher([ProfileSpec(1, 1, "deep", query)], meaning).match(saved_papers()):
                entry(match)
                assert all(isinstance(r, str) for r in match.reasons)
    finally:
        sys.setrecursionlimit(previous)
    assert all(parse(text) == node for node, text in printed)


HOSTILE_PIECES = st.sampled_from(
    ["(", ")", "-", "NOT", "OR", "AND", "a", "bc", '"d e"', "upvotes>=", "²", "①", "9", "٣", "*"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(HOSTILE_PIECES, min_size=1, max_size=400), st.sampled_from(["", " "]))
def test_long_hostile_texts_parse_or_raise_profile_syntax_error(
    pieces: list[str], glue: str
) -> None:
    """Up to 1000 characters of nesting, negation and odd digits: never anything but a tree or
    a ProfileSyntaxError, and every tree is evaluated without running out of stack."""
    query = glue.join(pieces)[:1000]
    try:
        node = parse(query)
    except ProfileSyntaxError as e:
        column = e.column
        assert 1 <= column <= len(query) + 1
        return
    for paper in saved_papers()[:5]:
        matches(node, paper)
    Matcher([ProfileSpec(1, 1, "h", query)]).match(saved_papers()[:5])
