"""Short plain-text mails (sign-up confirmations, manage links, operator alerts): built, or
built and sent at once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from email.utils import parseaddr

from mailer.message import build_plain
from mailer.transports import Transport, send_now
from mailer.types import Envelope


def send_plain(
    transports: Callable[[], Transport],
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    date: datetime,
    kind: str = "notice",
) -> str:
    """Build and hand over one message on a fresh transport; returns its Message-ID.

    Raises ``SendError`` (with the server's reason) when the transport refuses it.
    """
    envelope = plain_envelope(
        sender=sender, recipient=recipient, subject=subject, text=text, date=date, kind=kind
    )
    send_now(transports(), envelope)
    return envelope.message_id


def plain_envelope(
    *, sender: str, recipient: str, subject: str, text: str, date: datetime, kind: str = "notice"
) -> Envelope:
    """One plain-text message, built once (a retry sends the same bytes, Message-ID and all)."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2] or "localhost"
    message_id = f"<{kind}.{uuid.uuid4().hex}@{domain}>"
    data = build_plain(
        sender=sender,
        recipient=recipient,
        subject=subject,
        text=text,
        message_id=message_id,
        date=date,
    )
    return Envelope(address, recipient, message_id, data)
