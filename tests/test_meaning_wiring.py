"""Meaning wired through the running system: closeness stored with its model (both databases),
compose, the manage page's preview and buttons, the CLI and doctor, and no digest lost when the
model cannot be loaded. The lexical embedder stands in where the point is the wiring."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from mailer.transports import OutboxTransport
from paperboy.doctor import _profiles, meaning_check
from paperboy.feedback import spec
from paperboy.profiles.matcher import Matcher, ProfileSpec
from paperboy.semantic.load import ModelChoice, forget_loaded
from paperboy.semantic.runtime import Semantics
from paperboy.settings import Settings
from paperboy.tokens import Purpose, Tokens
from paperboy.web.app import create_app
from paperboy.web.site import WebContext
from tests.test_cli import rows, run
from tests.web_server import serving
from tests.world import NOW, SECRET, World, world

TOPIC = 'about:"reinforcement learning to improve the reasoning of language models"'
LEXICAL = ModelChoice(enabled=False)


@pytest.fixture
def w(database_url: str) -> Iterator[World]:
    with world(database_url) as made:
        yield made


@pytest.fixture
def bad_model(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"not a model")
    forget_loaded()
    yield path
    forget_loaded()


def test_closeness_is_stored_with_its_model_and_reaches_the_spec(w: World) -> None:
    sid = w.subscribe("a@example.org", profiles={"topic": TOPIC})
    (stored,) = w.people.profiles(sid)
    assert (stored.closeness, stored.closeness_model) == (0, None)
    saved = w.people.set_closeness("a@example.org", "topic", -2, "model-a", NOW)
    assert (saved.closeness, saved.closeness_model) == (-2, "model-a")
    ((_, active),) = w.people.active_profiles()
    assert active == saved
    matched = spec(saved)
    assert (matched.closeness, matched.closeness_model) == (-2, "model-a")
    assert matched.step_for("model-a") == -2
    assert matched.step_for("model-b") == 0  # set for another model: the default


def test_compose_matches_topics_by_meaning_and_a_narrower_step_keeps_fewer(w: World) -> None:
    sid = w.subscribe("a@example.org", profiles={"topic": TOPIC, "words": "diffusion"})
    semantics = Semantics(LEXICAL, w.engine)
    papers = w.papers.papers_seen_between(NOW.replace(year=2020), NOW)

    def found(step: int) -> set[str]:
        w.people.set_closeness("a@example.org", "topic", step, semantics.model_id, NOW)
        matched = semantics.matcher(w.people.profiles(sid)).match(papers)
        return {m.paper.arxiv_id for m in matched.for_subscriber(sid) if m.profile_name == "topic"}

    default, narrower, broader = found(0), found(3), found(-3)
    assert narrower < default < broader
    report = w.dispatcher().compose()  # the plain dispatcher: words only, about: left out
    assert report.composed == 1


def test_no_digest_is_lost_when_the_model_cannot_load(
    w: World, bad_model: Path, tmp_path: Path
) -> None:
    sid = w.subscribe("a@example.org", profiles={"topic": TOPIC, "words": "diffusion"})
    semantics = Semantics(ModelChoice(path=bad_model), w.engine)
    assert semantics.reason is not None
    assert "model.onnx" in semantics.reason
    dispatcher = w.dispatcher()
    dispatcher._composer._matching = semantics  # what wiring.build_dispatcher passes
    assert dispatcher.compose().composed == 1
    assert dispatcher.deliver(lambda: OutboxTransport(tmp_path / "out")).sent == 1
    (mail,) = (tmp_path / "out").glob("*.eml")
    text = _text(mail.read_bytes())
    assert "== topic ==" in text
    assert "== words ==" in text
    assert "Why:" in text
    settings = Settings(model_path=bad_model, _env_file=None)
    meaning = meaning_check(settings)
    assert meaning.status == "warn"
    profiles = _profiles(w.people, meaning)
    assert profiles.status == "ok"
    assert "1 match by meaning" in profiles.detail
    assert "lexical similarity" in profiles.detail
    assert sid


def test_manage_page_moves_closeness_and_previews_the_topic(sqlite_url: str) -> None:
    with world(sqlite_url) as w:
        sid = w.subscribe("a@example.org", profiles={"topic": TOPIC})
        semantics = Semantics(LEXICAL, w.engine)
        tokens = Tokens(SECRET, lambda: NOW)
        context = WebContext(w.engine, tokens, lambda: NOW, semantics=semantics)
        with serving(create_app(context)) as base, httpx.Client(base_url=base) as client:
            url = f"/m/{w.link(tokens, Purpose.MANAGE, sid)}"
            page = client.get(url).text
            assert "How close counts for about: and like: the default" in page
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            form = {"csrf": csrf.group(1), "original": "topic", "name": "topic", "query": TOPIC}
            shown = client.post(f"{url}/profiles", data=form | {"action": "preview"})
            default = _matched(shown.text)
            assert default > 0
            narrower = client.post(f"{url}/profiles", data=form | {"action": "narrower"})
            assert "Closeness saved: 1 step narrower" in narrower.text
            assert _matched(narrower.text) <= default
            (stored,) = w.people.profiles(sid)
            assert (stored.closeness, stored.closeness_model) == (1, semantics.model_id)
            for _ in range(2):
                broader = client.post(f"{url}/profiles", data=form | {"action": "broader"})
            assert "1 step broader" in broader.text
            assert _matched(broader.text) >= default
            assert w.people.profiles(sid)[0].closeness == -1


def test_demo_send_and_doctor_without_the_model(tmp_path: Path) -> None:
    """The quick start with a broken model file: the demo reader's topic profile still gets
    its papers (lexical similarity), doctor says so, and profile edit stores a step."""
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    env = {"PAPERBOY_MODEL_PATH": str(bad)}
    demo = run(tmp_path, "demo", **env)
    assert demo.returncode == 0, demo.stderr
    assert "1 composed, 1 sent" in " ".join(demo.stdout.split())
    (mail,) = (tmp_path / "data" / "paperboy" / "outbox").glob("*.eml")
    assert "== reasoning ==" in _text(mail.read_bytes())
    doctor = run(tmp_path, "doctor", **env)
    said = " ".join(doctor.stdout.split())
    assert "1 match by meaning (about:/like:), by lexical similarity" in said, said
    edited = run(tmp_path, "profile", "edit", "demo@example.org", "reasoning", "--narrower", **env)
    assert edited.returncode == 0, edited.stderr
    assert "closeness 1 (1 step narrower) for lexical" in " ".join(edited.stdout.split())
    stored = rows(
        tmp_path, "select closeness, closeness_model from profiles where name='reasoning'"
    )
    assert stored[0][0] == 1
    assert str(stored[0][1]).startswith("lexical")
    refused = run(tmp_path, "profile", "edit", "demo@example.org", "reasoning", "--closeness", "9")
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr


def _matched(html: str) -> int:
    found = re.search(r"(\d+) of \d+ papers from the last 7 days match", html)
    assert found, html[-2000:]
    return int(found.group(1))


def _text(data: bytes) -> str:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def test_saved_profiles_keep_topic_vectors_and_previews_keep_none(w: World) -> None:
    """Dispatch keeps each saved topic's vectors (a cold run embeds only new topics); a preview
    or a search keeps nothing, so a stranger's typing never grows the database."""
    from sqlalchemy import text

    forget_loaded()
    sid = w.subscribe("a@example.org", profiles={"topic": TOPIC})
    papers = w.papers.papers_seen_between(NOW.replace(year=2020), NOW)[:2]
    semantics = Semantics(ModelChoice(), w.engine)
    if semantics.reason is not None:
        pytest.fail(f"the packaged model did not load: {semantics.reason}")

    def kept() -> int:
        with w.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM topic_vectors")).scalar_one())

    preview = _preview_matcher(semantics, 'about:"speculative decoding for serving large models"')
    preview.match(papers)
    assert kept() == 0
    semantics.matcher(w.people.profiles(sid)).match(papers)
    assert kept() > 0


def _preview_matcher(semantics: Semantics, query: str) -> Matcher:
    return Matcher([ProfileSpec(0, 0, "preview", query)], semantics.meaning())
