"""What the tests rely on holds in every pytest-xdist worker as in one plain pytest process."""

from __future__ import annotations

import pytest

from paperboy.cli.app import err, out


@pytest.mark.parametrize("console", [out, err], ids=["stdout", "stderr"])
def test_the_cli_consoles_read_columns_at_each_call(
    console: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker starts with COLUMNS=80 (tests/conftest.py drops it): a console made at import
    would keep that width, and the CLI's tables would wrap in some orders of the tests only."""
    for columns in (123, 200):
        monkeypatch.setenv("COLUMNS", str(columns))
        assert console.width == columns  # type: ignore[attr-defined]
