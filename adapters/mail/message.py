"""One e-mail as the desk sends it: plain text, from the desk's own address, with a Message-ID
derived from what it carries (a resend after a crash is recognisably the same message) and
the desk's key for it in `X-Itdesk-Key` (and a check's id in `X-Itdesk-Ref`), so a message
in a mailbox or a mail server's log can be traced to the check or notice that sent it. They
name the request, never a code."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol

from bot.texts import say

KEY_HEADER = "X-Itdesk-Key"
REF_HEADER = "X-Itdesk-Ref"


@dataclass(frozen=True)
class Mail:
    """What to send: `to` is a real address on record (never one typed in chat), `key` the
    desk's id for the check or notice it belongs to, `ref` the provider's (a check's id)."""

    to: str
    subject: str
    body: str
    key: str
    ref: str | None = None

    def __repr__(self) -> str:  # the body may hold a code or a link's token
        return f"Mail(key={self.key!r}, subject={self.subject!r})"


class Mailer(Protocol):
    """Something that delivers a `Mail`, or raises (`adapters.mail.smtp.MailUndelivered`)."""

    async def send(self, mail: Mail) -> None: ...


def compose(mail: Mail, sender: str, *, now: datetime) -> EmailMessage:
    """The message for `mail`, from `sender` (`ITDESK_SMTP_FROM`), dated `now`."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(mail, sender)
    message[KEY_HEADER] = mail.key
    if mail.ref is not None:
        message[REF_HEADER] = mail.ref
    # RFC 3834: an automatic message, so out-of-office replies are not sent back to it
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(f"{mail.body}\n\n-- \n{say('email.footer')}\n")
    return message


def message_id(mail: Mail, sender: str) -> str:
    """The same key to the same address always gets the same id."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "itdesk.invalid"
    digest = hashlib.sha256(f"{mail.key}\n{mail.to.lower()}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"
