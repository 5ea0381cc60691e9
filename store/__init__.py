"""State: Core tables, the engine (SQLite by default, PostgreSQL), migrations, repositories."""
