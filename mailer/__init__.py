"""The outbound side: rendering, MIME, transports and the delivery ledger (issue 5)."""
