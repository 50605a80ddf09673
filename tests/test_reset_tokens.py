"""Reset tokens: only a digest kept, bound to a person, a case and an address, single use
under concurrency, at most 15 minutes, at most three live per person, one per request."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.state.reset_tokens import MAX_TTL, ResetTokens, token_digest
from bot.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def tokens(store: Store, clock: ManualClock) -> ResetTokens:
    return ResetTokens(store, clock)


async def _issue(tokens: ResetTokens, user: str = "zoe", request: str | None = None) -> str:
    issued = await tokens.issue(user, address="z\u2022\u2022\u2022@x.test", case_id="C-1",
                                request=request)  # fmt: skip
    assert issued.token is not None
    return issued.token


async def test_only_the_digest_is_kept_and_the_grant_says_whose_and_where(
    tokens: ResetTokens, store: Store
) -> None:
    token = await _issue(tokens)
    assert len(token) == 43  # 32 bytes, URL-safe base64 without padding
    grant = await tokens.grant(token)
    assert grant is not None
    assert (grant.username, grant.case_id, grant.address) == (
        "zoe",
        "C-1",
        "z\u2022\u2022\u2022@x.test",
    )
    assert grant.digest == token_digest(token)
    assert grant.expires_at == T0 + MAX_TTL
    for key in await store.redis.keys("*"):
        assert token not in key
        if await store.redis.type(key) == "string":
            assert token not in (await store.redis.get(key) or "")
    assert await tokens.grant("not-a-token") is None


def test_a_token_lives_at_most_fifteen_minutes(store: Store, clock: ManualClock) -> None:
    assert ResetTokens(store, clock, ttl=timedelta(hours=1)).ttl == timedelta(minutes=15)
    assert ResetTokens(store, clock, ttl=timedelta(minutes=5)).ttl == timedelta(minutes=5)
    with pytest.raises(ValueError, match="live"):
        ResetTokens(store, clock, ttl=timedelta(0))


async def test_a_token_is_taken_once_whoever_races_for_it(tokens: ResetTokens) -> None:
    token = await _issue(tokens)
    taken = await asyncio.gather(*(tokens.take(token) for _ in range(8)))
    assert len([t for t in taken if t is not None]) == 1
    assert await tokens.grant(token) is None
    assert await tokens.take(token) is None
    assert await tokens.live("zoe") == 0


async def test_an_expired_token_allows_nothing(tokens: ResetTokens, clock: ManualClock) -> None:
    token = await _issue(tokens)
    clock.advance(timedelta(minutes=16))
    assert await tokens.grant(token) is None
    assert await tokens.take(token) is None


async def test_a_taken_token_is_put_back_for_the_rest_of_its_life(
    tokens: ResetTokens, clock: ManualClock
) -> None:
    token = await _issue(tokens)
    grant = await tokens.take(token)
    assert grant is not None
    clock.advance(timedelta(minutes=10))
    assert await tokens.put_back(token, grant)
    assert await tokens.grant(token) == grant
    assert not await tokens.put_back(token, grant)  # it is there already
    again = await tokens.take(token)
    assert again == grant
    clock.advance(timedelta(minutes=6))
    assert not await tokens.put_back(token, grant)  # past its 15 minutes
    assert await tokens.grant(token) is None


async def test_a_person_has_at_most_three_live_tokens(
    tokens: ResetTokens, clock: ManualClock
) -> None:
    first = await _issue(tokens)
    later = []
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        later.append(await _issue(tokens))
    assert await tokens.live("zoe") == 3
    assert await tokens.grant(first) is None  # the oldest was retired
    assert all([await tokens.grant(t) for t in later])
    await _issue(tokens, "alice")
    assert await tokens.live("alice") == 1


async def test_the_same_request_gets_its_first_grant_and_no_second_token(
    tokens: ResetTokens,
) -> None:
    token = await _issue(tokens, request="C-1:0:reset_link")
    again = await tokens.issue("zoe", address="z\u2022\u2022\u2022@x.test", case_id="C-1",
                               request="C-1:0:reset_link")  # fmt: skip
    assert again.token is None
    assert again.grant == await tokens.grant(token)
    assert await tokens.live("zoe") == 1
    await tokens.revoke(token)  # its link never went out: the request may mint again
    assert await tokens.grant(token) is None
    assert await _issue(tokens, request="C-1:0:reset_link") != token
