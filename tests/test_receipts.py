"""Receipts on real Redis: kept per action, read back on a retry, bad input refused."""

from __future__ import annotations

import pytest

from bot.state.receipts import KEEP, RedisReceipts
from bot.store import Store


async def test_a_receipt_is_read_back_by_the_same_action_only(store: Store) -> None:
    first, other = RedisReceipts(store, "C-1:0"), RedisReceipts(store, "C-2:0")
    assert await first.get("reset_link") is None
    await first.put("reset_link", {"user": "alice", "address": "a\u2022\u2022\u2022@x.test"})

    assert await RedisReceipts(store, "C-1:0").get("reset_link") == {
        "user": "alice",
        "address": "a\u2022\u2022\u2022@x.test",
    }
    assert await other.get("reset_link") is None
    assert await first.get("enrolment_link") is None
    ttl = await store.redis.ttl(store.key("receipt", "C-1:0", "reset_link"))
    assert 0 < ttl <= KEEP.total_seconds()


async def test_bad_receipts_are_refused_and_change_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        RedisReceipts(store, "")
    receipts = RedisReceipts(store, "C-1:0")
    with pytest.raises(ValueError, match="needs a name"):
        await receipts.put("", {"a": 1})
    with pytest.raises(TypeError, match="plain JSON"):
        await receipts.put("x", {"when": object()})
    assert [key async for key in store.redis.scan_iter(match=f"{store.key('receipt')}:*")] == []
