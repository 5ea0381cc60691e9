"""Build the MIME message of a digest: multipart/alternative, the list headers, a safe subject."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from mailer.types import OutgoingEmail

SUBJECT_LIMIT = 120
# Long header lines are allowed (RFC 5322: 998): folding at 78 would turn the List-Unsubscribe
# mailto into an RFC 2047 encoded-word, which mail clients do not read as a URL.
_POLICY = SMTP.clone(max_line_length=998)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean_subject(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """No control characters (so no header injection), whitespace collapsed, length capped."""
    cleaned = " ".join(_CONTROL.sub(" ", text).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def build(email: OutgoingEmail, *, sender: str, list_id: str, date: datetime) -> EmailMessage:
    """Plain text first, then HTML; RFC 8058 one-click unsubscribe headers; CRLF line ends."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = sender
    message["To"] = email.recipient
    message["Date"] = format_datetime(date)
    message["Message-ID"] = email.message_id
    message["Subject"] = clean_subject(email.subject)
    message["List-Id"] = list_id
    message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>, <{email.unsubscribe_mailto}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
