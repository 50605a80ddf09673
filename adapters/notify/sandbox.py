"""The sandbox's phones and mailboxes: every code, push, link and notification the desk sends
out of band lands here, per person, where the web chat shows it beside the chat and the
scenario runner reads it (to answer a check, and to prove no minted secret reached chat)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Literal

from adapters.records import JsonRecords, text
from bot.clock import Clock
from bot.models import FactorKind
from bot.ports import OutboxItem, OutboxKind, OutboxStatus
from bot.store import Store

# statuses that mean "still waiting for the person": these read as expired once past due
_WAITING: frozenset[OutboxStatus] = frozenset({"pending", "delivered"})


def new_outbox_item(
    clock: Clock,
    *,
    to: str,
    channel: FactorKind | Literal["email_all"],
    address: str,
    kind: OutboxKind,
    text: str,
    secret: str | None = None,
    ref: str | None = None,
    status: OutboxStatus = "delivered",
    ttl: timedelta | None = None,
) -> OutboxItem:
    """A new item with a fresh id, stamped with the clock's time (and expiry, given a ttl)."""
    now = clock.now()
    return OutboxItem(
        id=f"ob-{secrets.token_hex(6)}",
        to=to,
        channel=channel,
        address=address,
        kind=kind,
        text=text,
        secret=secret,
        ref=ref,
        status=status,
        created_at=now,
        expires_at=None if ttl is None else now + ttl,
    )


class SandboxOutbox:
    """Out-of-band deliveries kept in Redis: the desk's `Outbox` port, and the phone and
    mailbox the sandbox's directory (links) and check provider (pushes, codes) deliver to.
    An item still waiting for an answer reads as `expired` once the clock passes its
    `expires_at` (a push nobody answered in time)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store.child("outbox")
        self._clock = clock
        self._items = JsonRecords(self._store, "item", OutboxItem)

    async def deliver(self, item: OutboxItem) -> OutboxItem:
        """Store and "send" the item. Delivering the same id again changes nothing."""
        existing = await self._items.get(item.id)
        if existing is not None:
            return self._as_of_now(existing)
        redis = self._store.redis
        async with redis.pipeline(transaction=True) as pipe:
            self._items.stage(pipe, item.id, item)
            pipe.rpush(self._store.key("to", item.to), item.id)
            if item.secret is not None:
                pipe.rpush(self._store.key("secrets"), item.secret)
            await pipe.execute()
        return item

    async def items(self, username: str) -> list[OutboxItem]:
        """Everything sent to the person, oldest first."""
        ids = await self._store.redis.lrange(self._store.key("to", username), 0, -1)
        return [self._as_of_now(item) for item in await self._items.many(map(text, ids))]

    async def item(self, item_id: str) -> OutboxItem | None:
        item = await self._items.get(item_id)
        return None if item is None else self._as_of_now(item)

    async def set_status(self, item_id: str, status: OutboxStatus) -> None:
        """What the phone shows of an item now (the check provider's answers)."""
        await self._items.update(item_id, lambda item: item.model_copy(update={"status": status}))

    async def secrets(self) -> list[str]:
        """Every secret minted in this world, once each, in the order they were sent."""
        minted = await self._store.redis.lrange(self._store.key("secrets"), 0, -1)
        return list(dict.fromkeys(map(text, minted)))

    def _as_of_now(self, item: OutboxItem) -> OutboxItem:
        due = item.expires_at is not None and self._clock.now() >= item.expires_at
        if due and item.status in _WAITING:
            return item.model_copy(update={"status": "expired"})
        return item
