"""The lockout feeds of several directories (ITDESK_DIRECTORY=okta,ad) read as one: one cursor
holding each feed's own, a feed that cannot be read now read again from where it was next
time while the others go on, and a person locked in two directories at once (AD and the
cloud IdP in front of it) reached out to once."""

from __future__ import annotations

import json
from collections.abc import Sequence

import structlog

from bot.ports import Lockout, LockoutFeed, LockoutPage

log = structlog.get_logger("itdesk.lockouts")


class MergedLockouts:
    def __init__(self, feeds: Sequence[tuple[str, LockoutFeed]]) -> None:
        if not feeds:
            raise ValueError("merged lockouts need at least one feed")
        self._feeds = list(feeds)

    async def lockouts_since(self, cursor: str | None) -> LockoutPage:
        before = _cursors(cursor)
        after: dict[str, str | None] = {}
        found: dict[str, Lockout] = {}
        failed = 0
        for name, feed in self._feeds:
            try:
                page = await feed.lockouts_since(before.get(name))
            except Exception as exc:
                failed += 1
                log.warning("lockouts.feed_unreadable", feed=name, error=type(exc).__name__)
                after[name] = before.get(name)
                if failed == len(self._feeds):
                    raise
                continue
            after[name] = page.cursor
            for lockout in page.lockouts:
                found.setdefault(lockout.username, lockout)  # one per person per poll
        return LockoutPage(lockouts=tuple(found.values()), cursor=json.dumps(after))


def _cursors(cursor: str | None) -> dict[str, str | None]:
    if not cursor:
        return {}
    try:
        parsed = json.loads(cursor)
    except ValueError:
        return {}
    return (
        {str(k): (None if v is None else str(v)) for k, v in parsed.items()}
        if isinstance(parsed, dict)
        else {}
    )
