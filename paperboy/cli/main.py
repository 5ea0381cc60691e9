"""Entry point of the `paperboy` console script: runs the app inside the error boundary."""

from __future__ import annotations

import sys

from rich.markup import escape

from paperboy.cli import (  # noqa: F401  (importing registers the commands)
    commands_db,
    commands_embed,
    commands_fetch,
    commands_mail,
    commands_papers,
    commands_profile,
    commands_service,
    commands_subscriber,
)
from paperboy.cli.app import app, err
from paperboy.cli.hints import hint_for
from paperboy.errors import PaperboyError


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a PaperboyError becomes its message and hint on stderr and a non-zero exit.

    Typer handles --help, usage errors and exit codes itself (as SystemExit); everything else
    that escapes a command is turned into one clear line here, never a traceback.
    """
    try:
        app(args=argv, prog_name="paperboy")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except PaperboyError as e:
        err.print(f"[bold red]error:[/] {escape(e.message)}")
        if hint := hint_for(e):
            err.print(f"[dim]hint:[/] {escape(hint)}")
        return e.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as e:  # the last boundary: an unexpected error still gets one clear line
        err.print(f"[bold red]internal error:[/] {type(e).__name__}: {escape(str(e))}")
        err.print("[dim]hint:[/] run again with --verbose and report it with the command you ran")
        return 70
    return 0


if __name__ == "__main__":
    sys.exit(main())
