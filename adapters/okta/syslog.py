"""Okta's System Log behind the `LockoutFeed` port: `user.account.lock` events since a cursor.

The cursor is base64url JSON of the `published` time of the newest event read and the uuids
published at that instant: the next poll asks `since` that time (Okta's bound is inclusive)
and leaves those uuids out. A first poll starts now. The log is read oldest first; a poll
(no `until`) always has a next page, so reading stops at an empty or short one."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.okta.client import OktaClient, Params
from adapters.okta.records import username_of
from bot.clock import Clock
from bot.ports import Lockout, LockoutPage

LOGS = "/api/v1/logs"
LOCK_EVENT = "user.account.lock"
PAGE = 100
MAX_PAGES = 50  # a poll reads at most this many pages; the rest wait for the next poll
# outcome.reason as the person may be told it (anything else: lower case, plain words)
REASONS = {
    "LOCKED_OUT": "too many failed sign-ins",
    "INVALID_CREDENTIALS": "too many failed sign-ins",
    "VERIFICATION_ERROR": "too many failed verification attempts",
}


class Cursor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    since: datetime
    seen: tuple[str, ...] = ()

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.model_dump_json().encode()).decode()

    @classmethod
    def decode(cls, raw: str) -> Cursor:
        try:
            return cls.model_validate_json(base64.urlsafe_b64decode(raw.encode()))
        except (ValueError, ValidationError):
            raise ValueError("not a cursor of the Okta lockout feed") from None


class OktaLockouts:
    """New lockouts from the org `client` calls."""

    def __init__(self, client: OktaClient, clock: Clock, *, page: int = PAGE) -> None:
        self._client = client
        self._clock = clock
        self._page = page

    async def lockouts_since(self, cursor: str | None) -> LockoutPage:
        if cursor is None:
            return LockoutPage(cursor=Cursor(since=self._clock.now()).encode())
        at = Cursor.decode(cursor)
        params: Params = {
            "filter": f'eventType eq "{LOCK_EVENT}"',
            "since": _iso(at.since),
            "sortOrder": "ASCENDING",
            "limit": self._page,
        }
        found: list[Lockout] = []
        since, seen = at.since, set(at.seen)
        pages = 0
        async for events in self._client.pages(LOGS, params):
            for event in events:
                lockout = _lockout(event)
                if lockout is None or lockout.id in seen:
                    continue
                found.append(lockout)
                if lockout.at > since:
                    since, seen = lockout.at, set()
                seen.add(lockout.id)
            pages += 1
            if len(events) < self._page or pages >= MAX_PAGES:
                break
        next_cursor = Cursor(since=since, seen=tuple(sorted(seen)))
        return LockoutPage(lockouts=tuple(found), cursor=next_cursor.encode())


def _lockout(event: Any) -> Lockout | None:
    """The lockout an event records; None for one that names no user."""
    if not isinstance(event, dict) or event.get("eventType") != LOCK_EVENT:
        return None
    targets = [t for t in event.get("target") or [] if isinstance(t, dict)]
    user = next((t for t in targets if t.get("type") == "User"), None)
    login = str((user or {}).get("alternateId") or "")
    try:
        at = datetime.fromisoformat(str(event.get("published")))
    except ValueError:
        return None
    if not login or not event.get("uuid"):
        return None
    outcome = event.get("outcome") if isinstance(event.get("outcome"), dict) else {}
    reason = str((outcome or {}).get("reason") or "")
    return Lockout(id=str(event["uuid"]), username=username_of(login), at=at, source="okta",
                   reason=REASONS.get(reason) or _plain(reason))  # fmt: skip


def _plain(reason: str) -> str:
    """An unknown reason in words only: no address, number or IP can come through."""
    words = re.sub(r"[^a-z]+", " ", reason.replace("_", " ").lower()).split()
    return " ".join(words)


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
