"""The desk's `Outbox` over e-mail: change notices to the addresses on record, and reset or
enrolment links to the first address in the configured order. Each delivery is done once per
item id: a retried delivery sends nothing that already went (per address, so one that failed
half-way sends only the rest). A secret an item carries (a link's token) goes into the mail
and is never kept: the item returned (and remembered) has it blanked out."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta

from adapters.mail.contacts import DEFAULT_ORDER, address_order, every_address, first_address
from adapters.mail.message import Mail, Mailer
from bot.masking import DOT, mask_email
from bot.ports import ContactPoints, Contacts, NotFoundError, OutboxItem, Unsupported
from bot.store import Store
from bot.texts import say

# how long a delivery is remembered: as long as the desk keeps a request's idempotency key
KEPT = timedelta(days=30)


class EmailOutbox:
    """Delivers outbox items by e-mail through `mailer` to the addresses `contacts` records.

    A notification on the `email_all` channel goes to every address on record (the primary
    and the secondary, once each). One on the `email` channel (`verification.notify` sends
    one per masked address it found) goes to the addresses on record that its masked address
    names, or every address when it names none of them. Links (and codes) go to the first
    address in `order`. The e-mail outbox cannot reach a phone: an item for `sms`, `push` or
    `totp` is `Unsupported` naming that channel."""

    def __init__(
        self,
        store: Store,
        contacts: Contacts,
        mailer: Mailer,
        *,
        order: Iterable[str] = DEFAULT_ORDER,
    ) -> None:
        self._store = store.child("email-outbox")
        self._contacts = contacts
        self._mailer = mailer
        self._order = address_order(order)

    async def deliver(self, item: OutboxItem) -> OutboxItem:
        if item.channel not in {"email", "email_all"}:
            raise Unsupported(item.channel, "the e-mail outbox reaches mailboxes only")
        if item.kind == "push":
            raise ValueError("a push is answered on a phone: it cannot go by e-mail")
        done = await self._store.redis.get(self._store.key("item", item.id))
        if done is not None:  # delivered before: nothing goes out again
            return OutboxItem.model_validate_json(done)
        points = await self._contacts.contact_points(item.to)
        if points is None:
            raise NotFoundError("person", item.to)
        addresses = self._recipients(item, points)
        subject = _subject(item)
        for address in addresses:
            sent = self._store.key("sent", item.id, _digest(address))
            if await self._store.redis.exists(sent):
                continue
            await self._mailer.send(Mail(address, subject, item.text, item.id))
            await self._store.redis.set(sent, "1", ex=KEPT)
        where = ", ".join(dict.fromkeys(mask_email(address) for address in addresses))
        text = item.text.replace(item.secret, DOT * 3) if item.secret else item.text
        delivered = item.model_copy(update={"address": where, "text": text, "secret": None,
                                            "status": "delivered"})  # fmt: skip
        await self._store.redis.set(
            self._store.key("item", item.id), delivered.model_dump_json(), ex=KEPT
        )
        return delivered

    def _recipients(self, item: OutboxItem, points: ContactPoints) -> list[str]:
        every = every_address(points)
        if item.kind != "notification":
            first = first_address(points, self._order)
            if first is None:
                raise NotFoundError("email", item.to)
            return [first]
        if not every:
            raise NotFoundError("email", item.to)
        if item.channel == "email_all":
            return every
        named = [address for address in every if mask_email(address) == item.address]
        return named or every


def _subject(item: OutboxItem) -> str:
    if item.kind == "reset_link":
        return say("email.subject_reset_link")
    if item.kind == "enrolment_link":
        return say("email.subject_enrolment_link")
    if item.kind == "code":
        return say("email.subject_code")
    return say("email.subject_notice")


def _digest(address: str) -> str:
    """An address as a key part, without writing the address into Redis."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:24]
