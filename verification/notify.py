"""Change notices: a person is told on every credential or factor change, at every address
they have, so that a change they did not ask for is noticed even when one channel (the chat
account, a phone) is in someone else's hands. A notice never carries a secret. An outbox that
cannot reach one of the channels (an e-mail outbox and a phone) leaves it out; the others
are still told."""

from __future__ import annotations

import secrets
from datetime import UTC
from typing import Literal

import structlog

from bot.clock import Clock
from bot.masking import mask_email
from bot.models import Person
from bot.ports import Directory, Outbox, OutboxItem, Unsupported
from bot.texts import say

log = structlog.get_logger("itdesk.notify")

Channel = Literal["email", "sms", "push"]


async def notify_change(
    person: Person, what: str, directory: Directory, outbox: Outbox, clock: Clock
) -> list[OutboxItem]:
    """Tell the person that `what`, a change with its article ("a password reset", "an MFA
    reset"), was requested through the desk, at each of their addresses; returns the items
    delivered."""
    now = clock.now()
    at = now.astimezone(UTC)
    text = say("step_up.change_notice", what=f"{what[:1].upper()}{what[1:]}",
               time=f"{at:%H:%M}", day=at.day, month_year=f"{at:%B %Y}")  # fmt: skip
    delivered = []
    for channel, address in await _addresses(person, directory):
        item = OutboxItem(
            id=f"ob-{secrets.token_hex(6)}",
            to=person.username,
            channel=channel,
            address=address,
            kind="notification",
            text=text,
            created_at=now,
        )
        try:
            delivered.append(await outbox.deliver(item))
        except Unsupported as exc:
            log.info("notify.channel_unsupported", user=person.username, channel=channel,
                     capability=exc.capability)  # fmt: skip
    return delivered


async def _addresses(person: Person, directory: Directory) -> list[tuple[Channel, str]]:
    """Every distinct (masked) place the person can be reached: their work mailbox, their
    phone (by SMS, else through the authenticator app when only push is registered), a
    registered e-mail factor and the recovery address."""
    found: dict[str, Channel] = {mask_email(person.email): "email"}
    phone_first: tuple[Channel, ...] = ("sms", "push", "email")
    for factor in phone_first:
        if factor in person.factors:
            address = await directory.factor_address(person.username, factor)
            if address:
                found.setdefault(address, factor)
    recovery = await directory.recovery_address(person.username)
    if recovery:
        found.setdefault(recovery, "email" if "@" in recovery else "sms")
    return [(channel, address) for address, channel in found.items()]
