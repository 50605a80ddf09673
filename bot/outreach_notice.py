"""What the desk says when it writes first about a lockout: the direct message with its two
buttons ([Unlock me] / [That wasn't me] for a lockout, [That wasn't me] / [It was me] for a
risky sign-in), the same notice by e-mail for someone the chat cannot reach (no buttons,
how to reach the desk instead), and the card once it was answered. Times are UTC, as the
step-up prompt gives them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from bot import texts
from bot.masking import mask_email
from bot.models import Button, Card, Person
from bot.ports import Lockout, OutboxItem

UNLOCK, NOT_ME, WAS_ME = "outreach_unlock", "outreach_not_me", "outreach_was_me"
ACTIONS = (UNLOCK, NOT_ME, WAS_ME)


def when(at: datetime) -> str:
    return f"{at.astimezone(UTC):%H:%M} UTC"


def choices(lockout: Lockout) -> tuple[str, str]:
    """The two buttons of the message, first the one the person is most likely to want."""
    return (UNLOCK, NOT_ME) if lockout.kind == "locked" else (NOT_ME, WAS_ME)


def notice(lockout: Lockout) -> str:
    """The question in words: what happened, when, and why, as the directory said."""
    locked, at = lockout.kind == "locked", when(lockout.at)
    if not lockout.reason:
        return texts.say("outreach.locked_plain" if locked else "outreach.risk_plain", time=at)
    return texts.say("outreach.locked" if locked else "outreach.risk", time=at,
                     reason=lockout.reason)  # fmt: skip


def card(lockout: Lockout, refs: dict[str, str]) -> Card:
    """The direct message; `refs` holds each button's minted ref by action."""
    buttons = tuple(
        Button(label=_label(action), action=action, ref=refs[action],
               style="danger" if action == NOT_ME else "primary")
        for action in choices(lockout)
    )  # fmt: skip
    return Card(kind="info", title=texts.say("outreach.title"), text=notice(lockout),
                buttons=buttons, about=lockout.username)  # fmt: skip


def answered(lockout: Lockout, action: str) -> Card:
    """The message once answered: the question, what the person chose, no buttons."""
    return Card(kind="info", title=texts.say("outreach.title"), text=notice(lockout),
                context=_answer(action, lockout.kind == "risk"),
                about=lockout.username)  # fmt: skip


def email(lockout: Lockout, person: Person, now: datetime) -> OutboxItem:
    """The notice by e-mail to every address on record, once per lockout."""
    digest = hashlib.sha256(lockout.id.encode()).hexdigest()[:16]
    risk = lockout.kind == "risk"
    text = texts.say("outreach.email_risk" if risk else "outreach.email", notice=notice(lockout))
    return OutboxItem(
        id=f"outreach-{digest}",
        to=person.username,
        channel="email_all",
        address=mask_email(person.email),
        kind="notification",
        text=text,
        created_at=now,
    )


def _label(action: str) -> str:
    return texts.say("outreach.unlock_me" if action == UNLOCK else
                     "outreach.not_me" if action == NOT_ME else "outreach.was_me")  # fmt: skip


def _answer(action: str, risk: bool) -> str:
    return texts.say("outreach.answered_unlock" if action == UNLOCK else
                     "outreach.answered_was_me" if action == WAS_ME else
                     "outreach.answered_not_me_risk" if risk else
                     "outreach.answered_not_me")  # fmt: skip
