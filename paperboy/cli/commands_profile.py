"""`paperboy profile …`: add, edit, list, remove, test a query on stored papers, and the grammar."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from paperboy import subscribers as rules
from paperboy.cli import commands_feedback  # noqa: F401  (registers `profile like|unlike`)
from paperboy.cli.app import State, err, out, profile_app, state
from paperboy.cli.views import FORMAT, Format, as_json, plural, records
from paperboy.clock import system_clock
from paperboy.profiles.ast import semantic_atoms
from paperboy.profiles.explain import grouped, warnings
from paperboy.profiles.highlight import snippet, spans
from paperboy.profiles.parser import (
    MAX_ABOUT,
    MAX_DEPTH,
    MAX_HINTS,
    MAX_LIKE,
    MAX_NUMBER,
    MAX_QUERY_LENGTH,
    MAX_SEMANTIC,
    MAX_TERMS,
    MIN_ABOUT,
    parse,
)
from store.types import PaperFilter

if TYPE_CHECKING:
    from paperboy.profiles.matcher import Match
    from paperboy.semantic.closeness import Meaning

# paperboy.feedback.MAX_CLOSENESS, repeated so that loading the CLI does not load the store
# (tests/test_cli_finish.py checks they agree)
MAX_CLOSENESS = 5

GRAMMAR = f"""\
A profile is a query over new papers. Case, accents and simple plurals do not
matter; words match whole words ("cat" never matches "concatenate"), and
"high-fidelity" = "high fidelity".

  diffusion video          both words (AND is implied; writing AND is allowed)
  "neural radiance"        the exact phrase
  diffusion OR flow        either. AND binds tighter: a b OR c is (a b) OR c,
                           and a OR b -c is a OR (b -c): write (a OR b) -c
                           to exclude from both
  -survey   NOT survey     exclude papers with the word
  (video OR audio) -survey parentheses group
  diffus*                  any word starting with diffus (at least 3 letters)

Fields (a bare term looks in the title, the abstract, the AI summary and the
AI keywords):
  title:llama   abstract:"variational inference"   author:"Yann LeCun"
  org:nvidia    keyword:"reinforcement learning"

Filters:
  upvotes>=20   stars>=100   (also >, <=, <, =)     has:code   has:project

By meaning (papers on a topic, whatever words they use):
  about:"speculative decoding for LLM serving"   close in meaning to the text
                                                 ({MIN_ABOUT}-{MAX_ABOUT} characters)
  about:robotics                                 one word needs no quotes
  like:2407.21783,2501.00001                     close to these papers (arXiv
                                                 ids, no spaces)
  -about:"surveys of the field"                  not about this topic
  about:"computer-use agents" ~GUI ~agents       with hints: never required
  Each match says why: the abstract's sentence closest to the topic, or
  "close to <paper>". How close counts is the profile's closeness: broader
  (-1, -2, ...) or narrower (1, 2, ...).
  Hints, ~word ~prefix* ~"a phrase" ~title:word, sit beside an about: or like:
  (same group). A paper with them needs less closeness, one without them more.
  Without ~ a word is required: about:"computer-use agents" GUI needs GUI too.

Limits: {MAX_QUERY_LENGTH} characters, {MAX_TERMS} terms, {MAX_DEPTH} levels of nesting \
(each parenthesis
and each NOT or - is one level); numbers are written with the digits 0-9, at
most {MAX_NUMBER}. about: and like: count as terms,
at most {MAX_SEMANTIC} in a query, {MAX_LIKE} ids in a like:; ~hints count as terms too, at most
{MAX_HINTS} in a query.

Examples:
  ("variational inference" OR bayesian*) -survey
  (diffusion OR "flow matching") video has:code upvotes>=5
  author:"Yann LeCun" OR org:meta
  about:"speculative decoding for LLM serving" -survey upvotes>=3
  about:"LLM agents that operate computers" ~GUI ~agents
  like:2407.21783 OR title:llama

Try a query on the papers stored in the last week before saving it:
  paperboy profile test '"variational inference" OR bayesian*' --days 7
  paperboy profile test 'about:"retrieval-augmented generation"' --closeness -1
"""


@profile_app.command("help")
def help_() -> None:
    """Print the query grammar with examples."""
    out.print(GRAMMAR, markup=False, highlight=False)


@profile_app.command("add")
def add(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
    name: str = typer.Argument(..., help="A short name, e.g. vision."),
    query: str = typer.Argument(..., help="The query; see `paperboy profile help`."),
) -> None:
    """Add a profile to a subscriber (the query is checked first)."""
    profile = rules.profile(name, query)
    saved = (
        state(ctx).subscribers().add_profile(rules.normalise_email(email), profile, system_clock())
    )
    out.print(f"saved profile {escape(saved.name)}: {escape(saved.query)}")
    _understood(saved.query)


def _understood(query: str) -> None:
    """How the query was read, every group in parentheses, and what people often misread."""
    node = parse(query)
    out.print(f"understood as: {escape(grouped(node))}", soft_wrap=True)
    for warning in warnings(node, query):
        err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)


@profile_app.command("edit")
def edit(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
    name: str = typer.Argument(..., help="The profile to change."),
    query: str | None = typer.Argument(None, help="The new query (default: keep it)."),
    rename: str | None = typer.Option(None, "--rename", help="A new name."),
    broader: bool = typer.Option(
        False, "--broader", help="about: and like: find more papers (one step broader)."
    ),
    narrower: bool = typer.Option(
        False, "--narrower", help="about: and like: find fewer, closer papers (one step)."
    ),
    closeness: int | None = typer.Option(
        None,
        "--closeness",
        min=-MAX_CLOSENESS,
        max=MAX_CLOSENESS,
        help="Set the closeness step: 0 default, negative broader, positive narrower.",
    ),
) -> None:
    """Change a profile's query or name, or how close counts for its about: and like: terms
    (stored with the model it was set for; `profile test QUERY --closeness N` tries a step)."""
    if broader + narrower + (closeness is not None) > 1:
        raise typer.BadParameter("choose one of --broader, --narrower and --closeness")
    st = state(ctx)
    store = st.subscribers()
    address = rules.normalise_email(email)
    subscriber = store.require(address)
    current = next((p for p in store.profiles(subscriber.id) if p.name == name), None)
    moved = broader or narrower or closeness is not None
    if query is not None or rename is not None or current is None or not moved:
        old_query = current.query if current else ""
        profile = rules.profile(rename or name, query if query is not None else old_query)
        saved = store.edit_profile(address, name, profile, system_clock())
        out.print(f"saved profile {escape(saved.name)}: {escape(saved.query)}")
        if query is not None:
            _understood(saved.query)
        name = saved.name
    if moved:
        _closeness(st, address, name, -1 if broader else 1 if narrower else 0, closeness)


def _closeness(st: State, address: str, name: str, move: int, to: int | None) -> None:
    """Store the profile's closeness step for the model in use now."""
    from paperboy.feedback import closeness_step
    from paperboy.semantic.runtime import shared

    semantics = shared(st.settings, st.engine())
    model = semantics.model_id
    if semantics.reason is not None:
        err.print(f"note: {escape(semantics.reason)}", soft_wrap=True)
    store = st.subscribers()
    profile = next(p for p in store.profiles(store.require(address).id) if p.name == name)
    was = profile.closeness if profile.closeness_model in (None, model) else 0
    step = closeness_step(to if to is not None else was + move)
    saved = store.set_closeness(address, name, step, model, system_clock())
    out.print(
        f"saved profile {escape(saved.name)}: closeness {saved.closeness} "
        f"({_said(saved.closeness)}) for {escape(model)}"
    )


def _said(step: int) -> str:
    if step == 0:
        return "the default"
    return f"{abs(step)} step{'s' if abs(step) > 1 else ''} {'broader' if step < 0 else 'narrower'}"


@profile_app.command("list")
def list_(
    ctx: typer.Context,
    email: str | None = typer.Argument(None, help="Only this subscriber's profiles."),
    format_: Format = FORMAT,
) -> None:
    """List profiles, of one subscriber or of everyone."""
    store = state(ctx).subscribers()
    subscribers = (
        [store.require(rules.normalise_email(email))] if email else store.list_subscribers()
    )
    profiles = store.all_profiles()
    if format_ is Format.JSON:
        rows = [
            {"email": s.email} | r for s in subscribers for r in records(profiles.get(s.id, []))
        ]
        print(as_json(rows))
        return
    table = Table(title="Profiles", title_justify="left")
    table.add_column("subscriber", overflow="ellipsis")  # an address on one line
    table.add_column("name", no_wrap=True)
    table.add_column("query", ratio=1)
    for s in subscribers:
        for p in profiles.get(s.id, []):
            table.add_row(escape(s.email), escape(p.name), escape(p.query))
    out.print(table)


@profile_app.command("remove")
def remove(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
    name: str = typer.Argument(..., help="The profile to remove."),
) -> None:
    """Remove one profile."""
    state(ctx).subscribers().remove_profile(rules.normalise_email(email), name)
    out.print(f"removed profile {escape(name)}.")


@profile_app.command("test")
def try_query(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="The query to try; see `paperboy profile help`."),
    days: int = typer.Option(
        7, "--days", min=1, max=3650, help="Papers first seen in the last N days."
    ),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="Show at most this many."),
    closeness: int = typer.Option(
        0,
        "--closeness",
        min=-MAX_CLOSENESS,
        max=MAX_CLOSENESS,
        help="For about: and like:, how close is close: negative is broader, positive narrower.",
    ),
) -> None:
    """Show what a query would have matched in the stored papers, matched terms highlighted
    and, for about: and like:, the reason each paper was found close."""
    from paperboy.profiles.matcher import Matcher, ProfileSpec, ranked

    node = parse(query, "test")  # a syntax error names the column before anything is read
    _understood(query)
    st = state(ctx)
    papers = st.store().list_papers(
        PaperFilter(seen_since=system_clock() - timedelta(days=days), limit=100_000)
    )
    meaning = _meaning(st) if semantic_atoms(node) else None
    spec = ProfileSpec(0, 0, "test", query, closeness=closeness)
    matches = ranked(Matcher([spec], meaning).match(papers))
    out.print(
        f"{len(matches)} of {plural(len(papers), 'paper')} from the last "
        f"{plural(days, 'day')} {'matches' if len(matches) == 1 else 'match'}."
    )
    for match in matches[:limit]:
        out.print(_render(match))


def _meaning(st: State) -> Meaning:
    """The Meaning `profile test` asks: the model (or the lexical fallback, said so) over the
    stored paper vectors, with the stored papers as like: examples."""
    from paperboy.semantic.runtime import meaning_for

    meaning, reason = meaning_for(st.settings, st.engine())
    if reason is not None:
        err.print(f"note: {escape(reason)}", soft_wrap=True)
    return meaning


def _render(match: Match) -> Text:
    paper = match.paper
    wanted = [(h.words, h.prefix) for h in match.hits]
    title = _marked(paper.title, spans(paper.title, wanted), "bold yellow")
    lines = Text.assemble(
        (f"{paper.arxiv_id}  ", "dim"), title, (f"  ▲{paper.upvotes}", "cyan"), "\n"
    )
    for reason in match.reasons:  # why meaning found it close, right under the title
        lines.append(f"    why: {reason}\n", style="green")
    abstract = paper.summary or paper.ai_summary or ""
    if abstract:
        text, found = snippet(abstract, spans(abstract, wanted))
        lines.append_text(_marked("    " + text, [(s + 4, e + 4) for s, e in found], "yellow"))
        lines.append("\n")
    where = sorted({f"{h.term} in {h.field.value}" for h in match.hits})
    if where:
        lines.append(f"    matched: {', '.join(where)}\n", style="dim")
    return lines


def _marked(text: str, found: list[tuple[int, int]], style: str) -> Text:
    marked = Text(text)
    for start, end in found:
        marked.stylize(style, start, end)
    return marked
