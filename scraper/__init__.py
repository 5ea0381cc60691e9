"""The inbound side: a polite HTTP client, Hugging Face sources, parsers and health verdicts."""
