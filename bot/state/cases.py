"""Cases in Redis: an event list per case, an index per requester and one of every case, and
every event also appended to the hash-chained audit log."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.cases import Case, CaseError, CaseEvent, CaseStatus, new_case_id
from bot.clock import Clock
from bot.events import Event, Opened
from bot.state.audit import AuditLog
from bot.store import Store

LOOK_BACK = 8  # cases read per round trip when looking for a person's open one


class StaleLock(CaseError):
    """The conversation lock was lost before the write: another worker owns it now."""


class CaseRepository:
    """Cases in Redis: an event list per case, an index per requester, and every event also
    appended to the hash-chained audit log."""

    def __init__(self, store: Store, audit: AuditLog, clock: Clock) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    def _events_key(self, case_id: str) -> str:
        return self._store.key("case", case_id, "events")

    async def open(
        self,
        *,
        requester: str,
        conversation: str,
        platform: str,
        text: str,
        fence: tuple[str, int] | None = None,
        correlation_id: str | None = None,
        event_id: str | None = None,
    ) -> Case:
        case_id = new_case_id()
        opened = Opened(requester=requester, conversation=conversation, platform=platform,
                        text=text, correlation_id=correlation_id, event_id=event_id)  # fmt: skip
        event = CaseEvent(at=self._clock.now(), actor=requester, status=CaseStatus.NEW,
                          event=opened)  # fmt: skip
        await self._write(case_id, event, fence)
        async with self._store.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(self._store.key("cases", "by_requester", requester), case_id)
            pipe.rpush(self._store.key("cases", "all"), case_id)
            await pipe.execute()
        return Case.from_events(case_id, [event.model_copy(update={"seq": 1})])

    async def append(
        self,
        case: Case,
        what: Event,
        *,
        actor: str,
        status: CaseStatus | None = None,
        fence: tuple[str, int] | None = None,
    ) -> Case:
        """Record an event on `case` (moving it to `status`, if given) and return the case as
        it now is. Refuses a transition the lifecycle does not allow."""
        if status is not None and not case.can_move_to(status):
            raise CaseError(f"case {case.id}: {case.status} -> {status} is not allowed")
        event = CaseEvent(at=self._clock.now(), actor=actor, status=status, event=what)
        seq = await self._write(case.id, event, fence)
        case._apply(event.model_copy(update={"seq": seq}))
        return case

    async def _write(self, case_id: str, event: CaseEvent, fence: tuple[str, int] | None) -> int:
        payload = event.stored()
        if fence is not None:
            lock_key, token = fence
            seq = await self._store.redis.eval(
                _FENCED_RPUSH,
                2,
                lock_key,
                self._events_key(case_id),
                str(token),
                json.dumps(payload),
            )
            if int(seq) < 0:
                raise StaleLock(f"lost the conversation lock while writing case {case_id}")
        else:
            seq = await self._store.redis.rpush(self._events_key(case_id), json.dumps(payload))
        await self._audit.append({"case": case_id, "seq": int(seq), **payload})
        return int(seq)

    async def get(self, case_id: str) -> Case | None:
        raw = await self._store.redis.lrange(self._events_key(case_id), 0, -1)
        return _case(case_id, raw)

    async def many(self, case_ids: Sequence[str]) -> list[Case]:
        """The cases with these ids, in the order given (unknown ids left out), read in one
        round trip."""
        async with self._store.redis.pipeline(transaction=False) as pipe:
            for case_id in case_ids:
                pipe.lrange(self._events_key(case_id), 0, -1)
            raws = await pipe.execute() if case_ids else []
        found = (_case(case_id, raw) for case_id, raw in zip(case_ids, raws, strict=True))
        return [case for case in found if case is not None]

    async def ids_of(self, requester: str) -> list[str]:
        return [
            str(x)
            for x in await self._store.redis.lrange(
                self._store.key("cases", "by_requester", requester), 0, -1
            )
        ]

    async def of_requester(self, requester: str) -> list[Case]:
        return await self.many(await self.ids_of(requester))

    async def latest_open(self, requester: str) -> Case | None:
        """The person's newest open case, looked for a few cases at a time from the newest
        (the open one is nearly always among the last few)."""
        newest_first = list(reversed(await self.ids_of(requester)))
        for start in range(0, len(newest_first), LOOK_BACK):
            for case in await self.many(newest_first[start : start + LOOK_BACK]):
                if case.open:
                    return case
        return None

    async def all_ids(self) -> list[str]:
        return [
            str(x) for x in await self._store.redis.lrange(self._store.key("cases", "all"), 0, -1)
        ]


def _case(case_id: str, raw: Sequence[str | bytes]) -> Case | None:
    if not raw:
        return None
    events = [CaseEvent.from_stored(json.loads(item), i + 1) for i, item in enumerate(raw)]
    return Case.from_events(case_id, events)


# Append only while the caller still holds the conversation lock with this fencing token.
_FENCED_RPUSH = """
local held = redis.call('GET', KEYS[1])
if held ~= ARGV[1] then return -1 end
return redis.call('RPUSH', KEYS[2], ARGV[2])
"""
