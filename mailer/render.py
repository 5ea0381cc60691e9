"""Render digests from Jinja2 templates: autoescape forced on, StrictUndefined, CSS inlined."""

from __future__ import annotations

from pathlib import Path

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from mailer.types import DigestContent

_ROOT = Path(__file__).resolve().parents[1]
# A checkout has templates/ at the top; an installed wheel carries them as paperboy_templates/.
TEMPLATES = _ROOT / "templates" if (_ROOT / "templates").is_dir() else _ROOT / "paperboy_templates"


def _escaped(name: str | None) -> bool:
    """Every template is HTML-escaped but the plain-text ones (*.txt.j2), whose output is not
    HTML; select_autoescape() would wrongly skip *.html.j2, so the rule is spelled out here."""
    return not (name or "").endswith(".txt.j2")


def environment(templates: Path = TEMPLATES) -> Environment:
    return Environment(
        loader=FileSystemLoader(templates),
        autoescape=_escaped,  # noqa: S701  (a callable that escapes every HTML template)
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


# Highlighted words are marked up at run time, after the stylesheet was inlined into the
# template, so their style is spelled out here.
MARK_STYLE = "background: #fde68a;color: #111827;padding: 0 1px;"


class DigestRenderer:
    """HTML (CSS inlined) and plain text of a digest. Build once, render many.

    The stylesheet is inlined into the HTML template once, when it is loaded (css-inline parses
    the template's markup; Jinja's tags sit in text and attribute values, where HTML leaves them
    alone), not into every rendered digest: that saved 0.7 ms of a 2.5 ms message.
    Keep ``<``, ``>`` and ``&`` out of the template's Jinja expressions for that reason.
    """

    def __init__(self, templates: Path = TEMPLATES) -> None:
        env = environment(templates)
        assert env.loader is not None
        name = "email/digest.html.j2"
        source, _, _ = env.loader.get_source(env, name)
        # @media rules (dark mode, phones) cannot be inlined: they stay in one <style> tag.
        inliner = css_inline.CSSInliner(
            keep_style_tags=False, load_remote_stylesheets=False, keep_at_rules=True
        )
        self._html = env.from_string(inliner.inline(source))
        self._html.name = name
        self._text = env.get_template("email/digest.txt.j2")

    def render(self, content: DigestContent) -> tuple[str, str]:
        return self._html.render(d=content), self._text.render(d=content)
