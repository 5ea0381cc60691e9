"""Keyword profiles: the query language, text analysis, and the matcher."""
