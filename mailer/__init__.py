"""The outbound side: rendering (Jinja2), MIME, transports; the delivery ledger is store.ledger."""
