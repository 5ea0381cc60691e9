"""Matching by meaning: a sentence-embedding model behind a small Protocol, vectors per paper,
closeness of papers to a topic (``about:``) or to examples (``like:``), and feedback."""
