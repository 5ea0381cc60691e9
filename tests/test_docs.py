"""The docs stay honest: every setting and every command is documented."""

from __future__ import annotations

from pathlib import Path

import typer.main

from paperboy.cli.main import app
from paperboy.settings import setting_names

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def _commands(group: typer.Typer, prefix: str = "paperboy") -> list[str]:
    click_group = typer.main.get_command(group)
    names = []
    for name, command in click_group.commands.items():  # type: ignore[attr-defined]
        names.append(f"{prefix} {name}")
        names.extend(f"{prefix} {name} {sub}" for sub in getattr(command, "commands", {}))
    return names


def test_every_setting_is_in_the_readme() -> None:
    missing = [name for name in setting_names() if f"`{name}`" not in README]
    assert missing == []


def test_every_setting_is_in_the_env_example() -> None:
    example = (ROOT / "deploy" / "paperboy.env.example").read_text()
    missing = [name for name in setting_names() if name not in example]
    assert missing == []


def test_every_command_is_in_the_readme() -> None:
    commands = _commands(app)
    assert "paperboy fetch" in commands
    assert "paperboy db upgrade" in commands
    missing = [c for c in commands if c not in README]
    assert missing == []


def test_changelog_has_an_unreleased_section() -> None:
    assert "## Unreleased" in (ROOT / "CHANGELOG.md").read_text()
