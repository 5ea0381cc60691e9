"""Render digests from Jinja2 templates: autoescape forced on, StrictUndefined, CSS inlined."""

from __future__ import annotations

from pathlib import Path

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from mailer.types import DigestContent

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


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


class DigestRenderer:
    """HTML (CSS inlined) and plain text of a digest. Build once, render many."""

    def __init__(self, templates: Path = TEMPLATES) -> None:
        env = environment(templates)
        self._html = env.get_template("email/digest.html.j2")
        self._text = env.get_template("email/digest.txt.j2")
        self._inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)

    def render(self, content: DigestContent) -> tuple[str, str]:
        html = self._inliner.inline(self._html.render(d=content))
        text = self._text.render(d=content)
        return html, text
