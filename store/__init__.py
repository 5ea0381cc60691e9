"""State: SQLModel tables, the engine (SQLite by default, PostgreSQL), migrations, repositories."""
