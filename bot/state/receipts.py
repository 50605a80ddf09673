"""Receipts: what an action has already done at a backend that cannot be read back there (a
link sent, sessions revoked where they cannot be counted), kept by the desk so that a retry
of the same action reads what happened instead of doing it again.

A receipt belongs to one action, named by the action's idempotency key, and is kept as long
as the desk keeps that key."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.store import Store

KEEP = timedelta(days=30)  # as long as the action's idempotency record (bot.actions)


class ReceiptBook:
    """Every action's receipts: `of(key)` gives one action's."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def of(self, action_key: str) -> RedisReceipts:
        return RedisReceipts(self._store, action_key)


class RedisReceipts:
    """The `skills.base.Receipts` of one action, in Redis under the desk's store."""

    def __init__(self, store: Store, action_key: str) -> None:
        if not action_key:
            raise ValueError("receipts belong to an action: its idempotency key is empty")
        self._store = store
        self._action = action_key

    def _key(self, name: str) -> str:
        if not name:
            raise ValueError("a receipt needs a name")
        return self._store.key("receipt", self._action, name)

    async def get(self, name: str) -> dict[str, Any] | None:
        raw = await self._store.redis.get(self._key(name))
        return None if raw is None else dict(json.loads(raw))

    async def put(self, name: str, value: dict[str, Any]) -> None:
        """Record (or replace) the receipt `name` of this action."""
        try:
            raw = json.dumps(value, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"receipt {name!r} must be plain JSON data: {exc}") from exc
        await self._store.redis.set(self._key(name), raw, ex=KEEP)
