"""Several directories' lockout feeds read as one: each feed goes on from its own cursor, a
feed that cannot be read is read again from where it was, and a person locked in two
directories in the same poll is one lockout."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from adapters.directory.lockout_feeds import MergedLockouts
from bot.ports import Lockout, LockoutPage

T0 = datetime(2026, 12, 4, 9, 12, tzinfo=UTC)


class ListFeed:
    """Lockouts by position: the cursor is how many were read."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.events: list[Lockout] = []
        self.down = False
        self.asked: list[str | None] = []

    def lock(self, username: str) -> None:
        n = len(self.events)
        self.events.append(Lockout(id=f"{self.source}-{n}", username=username, at=T0,
                                   source=self.source))  # fmt: skip

    async def lockouts_since(self, cursor: str | None) -> LockoutPage:
        self.asked.append(cursor)
        if self.down:
            raise ConnectionError("directory down")
        start = len(self.events) if cursor is None else int(cursor)
        return LockoutPage(lockouts=tuple(self.events[start:]), cursor=str(len(self.events)))


async def test_each_feed_goes_on_from_its_own_cursor() -> None:
    okta, ad = ListFeed("okta"), ListFeed("ad")
    okta.lock("old")  # before the desk started: never reached out about
    merged = MergedLockouts([("okta", okta), ("ad", ad)])
    first = await merged.lockouts_since(None)
    assert first.lockouts == ()

    okta.lock("zoe")
    ad.lock("peter")
    second = await merged.lockouts_since(first.cursor)
    assert sorted(x.username for x in second.lockouts) == ["peter", "zoe"]
    assert json.loads(second.cursor) == {"okta": "2", "ad": "1"}
    assert (await merged.lockouts_since(second.cursor)).lockouts == ()


async def test_a_feed_down_is_read_again_from_where_it_was() -> None:
    okta, ad = ListFeed("okta"), ListFeed("ad")
    merged = MergedLockouts([("okta", okta), ("ad", ad)])
    cursor = (await merged.lockouts_since(None)).cursor
    ad.lock("peter")
    okta.lock("zoe")
    ad.down = True

    page = await merged.lockouts_since(cursor)
    assert [x.username for x in page.lockouts] == ["zoe"]
    ad.down = False
    again = await merged.lockouts_since(page.cursor)
    assert [x.username for x in again.lockouts] == ["peter"]
    assert ad.asked[-1] == ad.asked[-2] == "0"


async def test_every_feed_down_is_an_error_and_one_person_locked_twice_is_one() -> None:
    okta, ad = ListFeed("okta"), ListFeed("ad")
    merged = MergedLockouts([("okta", okta), ("ad", ad)])
    cursor = (await merged.lockouts_since(None)).cursor
    okta.lock("peter")
    ad.lock("peter")
    assert [x.id for x in (await merged.lockouts_since(cursor)).lockouts] == ["okta-0"]

    okta.down = ad.down = True
    with pytest.raises(ConnectionError):
        await merged.lockouts_since(cursor)
    assert (await MergedLockouts([("x", ListFeed("x"))]).lockouts_since("not json")).cursor == (
        '{"x": "0"}'
    )
