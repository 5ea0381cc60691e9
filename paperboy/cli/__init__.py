"""The `paperboy` command line (Typer + Rich)."""
