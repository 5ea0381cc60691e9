"""The web pages subscribers reach from their emails (FastAPI; templates in templates/web)."""
