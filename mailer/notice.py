"""Short plain-text mails sent at once (sign-up confirmations, manage links, operator alerts)."""

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
    send_now(transports(), Envelope(address, recipient, message_id, data))
    return message_id
