"""`paperboy profile like|unlike` as a user runs them: a real process on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paperboy.errors import InputError
from paperboy.feedback import MAX_EXAMPLES, example_id, example_ids, example_query
from store.feedback import FeedbackStore, Signals
from store.types import PaperFilter
from tests.test_cli import run
from tests.world import World, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    """The file the CLI opens, with the saved papers and one subscriber with two profiles."""
    with world(f"sqlite:///{tmp_path / 'pb.db'}") as made:
        made.subscribe("Reader@Example.org", profiles={"vision": "diffusion", "text": "llama"})
        yield made


def _signals(w: World) -> dict[str, Signals]:
    subscriber = w.people.require("reader@example.org")
    profiles = {p.id: p.name for p in w.people.profiles(subscriber.id)}
    told = FeedbackStore(w.engine).for_profiles(profiles)
    return {profiles[pid]: signals for pid, signals in told.items()}


def test_like_reject_and_unlike(tmp_path: Path, w: World) -> None:
    paper = w.papers.list_papers(PaperFilter())[0]
    liked = run(tmp_path, "profile", "like", "reader@example.org", "vision", paper.arxiv_id)
    assert liked.returncode == 0, liked.stderr
    assert f"vision: more like {paper.arxiv_id}" in liked.stdout
    assert _signals(w) == {"vision": Signals((paper.arxiv_id,), ())}
    # The latest signal wins; a pasted arXiv link names the same paper.
    link = f"https://arxiv.org/abs/{paper.arxiv_id}v2"
    for flag in ("--not-interested", "--reject"):
        rejected = run(tmp_path, "profile", "like", "READER@example.org", "vision", link, flag)
        assert rejected.returncode == 0, rejected.stderr
        assert f"vision: not interested in {paper.arxiv_id}" in rejected.stdout
        assert _signals(w) == {"vision": Signals((), (paper.arxiv_id,))}
    undone = run(tmp_path, "profile", "unlike", "reader@example.org", "vision", paper.arxiv_id)
    assert undone.returncode == 0, undone.stderr
    assert "no longer counts" in undone.stdout
    assert _signals(w) == {}
    again = run(tmp_path, "profile", "unlike", "reader@example.org", "vision", paper.arxiv_id)
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody@example.org", "vision", "PAPER"), "no subscriber 'nobody@example.org'"),
        (("not an address", "vision", "PAPER"), "is not a valid email address"),
        (("reader@example.org", "music", "PAPER"), "has no profile named 'music'"),
        (("reader@example.org", "vision", "2401.0001x"), "'2401.0001x' is not an arXiv id"),
        (("reader@example.org", "vision", "1999.99999"), "paper 1999.99999 is not stored"),
    ],
)
def test_clear_errors_and_a_non_zero_exit(
    tmp_path: Path, w: World, args: tuple[str, str, str], message: str
) -> None:
    paper = w.papers.list_papers(PaperFilter())[0].arxiv_id
    filled = [paper if a == "PAPER" else a for a in args]
    # unlike checks the same way, but needs no stored paper: undoing one never seen is a no-op
    command = "unlike" if "music" in args else "like"
    result = run(tmp_path, "profile", command, *filled)
    assert result.returncode != 0
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert _signals(w) == {}


def test_pasted_ids_are_read_liberally_and_checked() -> None:
    pasted = """2401.00001, arXiv:2401.00002v2
    https://arxiv.org/abs/2401.00003 https://arxiv.org/pdf/2401.00004v1.pdf;
    https://huggingface.co/papers/2401.00005 hep-th/9901001 2401.00001"""
    assert example_ids(pasted) == (
        "2401.00001",
        "2401.00002",
        "2401.00003",
        "2401.00004",
        "2401.00005",
        "hep-th/9901001",
    )
    assert example_query(example_ids("2401.00001 2401.00002")) == "like:2401.00001,2401.00002"
    assert example_ids("  ") == ()
    assert len(example_ids(" ".join(f"2401.{i:05d}" for i in range(MAX_EXAMPLES)))) == 20
    with pytest.raises(InputError, match="too many example papers"):
        example_ids(" ".join(f"2401.{i:05d}" for i in range(MAX_EXAMPLES + 1)))
    for bad in (
        "llama",
        "2401.0001x",
        "<script>",
        "2401.00001v2v3",
        "https://example.org/2401.00001",
    ):
        with pytest.raises(InputError, match="is not an arXiv id"):
            example_id(bad)
