"""Outages: reports of the same problem from many people, grouped into one incident.

Each report is counted under its problem's key (the intent and the service or application it
names) in a window; the report that brings the count to the threshold opens the incident,
and every report while it is open joins it. Counting, opening and joining happen in one Lua
script, so workers racing on a storm open one incident, not ten."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bot.store import Store

# KEYS: reports (zset person -> time), open (the key's open incident id), prefix of incidents
# ARGV: now ms, window ms, threshold, person, case id, a new incident id
_REPORT = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local open = redis.call('GET', KEYS[2])
if open then
  local fresh = redis.call('HSETNX', KEYS[3] .. open .. ':reporters', ARGV[4], ARGV[5])
  return {open, 'joined', fresh}
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then return {false, 'counted', 0} end
redis.call('SET', KEYS[2], ARGV[6])
local earlier = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, person in ipairs(earlier) do
  redis.call('HSETNX', KEYS[3] .. ARGV[6] .. ':reporters', person, '')
end
redis.call('HSET', KEYS[3] .. ARGV[6] .. ':reporters', ARGV[4], ARGV[5])
return {ARGV[6], 'opened', 1, earlier}
"""


@dataclass(frozen=True)
class Reported:
    """What one report did: counted below the threshold (no incident), opened the
    incident, or joined the open one (`fresh`: this person had not reported it before)."""

    incident: str | None
    outcome: str  # "counted" | "opened" | "joined"
    fresh: bool
    earlier: tuple[str, ...] = ()  # who had reported it when it opened (the opener included)


@dataclass(frozen=True)
class Incident:
    id: str
    key: str
    intent: str
    service: str
    status: str  # "open" | "closed"
    opened_at: str
    ticket_id: str = ""
    thread_message: str = ""


class IncidentRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def report(
        self, key: str, person: str, case_id: str, *, now: datetime, window_s: int, threshold: int
    ) -> Reported:
        keys = [self._k("reports", key), self._k("open", key), self._k("incident") + ":"]
        new_id = "OUT-" + secrets.token_hex(3).upper()
        now_ms = int(now.timestamp() * 1000)
        answer: Any = await self._store.redis.eval(
            _REPORT, 3, *keys, now_ms, window_s * 1000, threshold, person, case_id, new_id
        )
        incident, outcome, fresh = answer[0], str(answer[1]), bool(int(answer[2]))
        earlier = tuple(str(p) for p in answer[3]) if len(answer) > 3 else ()
        return Reported(str(incident) if incident else None, outcome, fresh, earlier)

    async def declare(self, key: str) -> tuple[str, bool]:
        """An incident for `key` opened by hand: the open one's id and False when there is
        one already, else a new id and True."""
        new_id = "OUT-" + secrets.token_hex(3).upper()
        if await self._store.redis.set(self._k("open", key), new_id, nx=True):
            return new_id, True
        return str(await self._store.redis.get(self._k("open", key))), False

    async def merge(self, source: Incident, target: Incident) -> list[str]:
        """Fold `source` into `target`: its reporters join `target`, and reports of its
        problem join `target` from now on. Returns the reporters moved."""
        moved = await self.reporters(source.id)
        async with self._store.redis.pipeline(transaction=True) as pipe:
            for person in moved:
                pipe.hsetnx(self._k("incident", target.id) + ":reporters", person, "")
            pipe.hset(self._k("incident", source.id), "status", "merged")
            pipe.set(self._k("open", source.key), target.id)
            await pipe.execute()
        return moved

    async def describe(self, incident: Incident) -> None:
        """Keep what the incident is (once opened, by the report that opened it)."""
        fields: dict[str | bytes, str] = {
            name: str(value) for name, value in asdict(incident).items() if name != "id"
        }
        await self._store.redis.hset(self._k("incident", incident.id), mapping=fields)  # type: ignore[arg-type]
        await self._store.redis.sadd(self._k("incidents"), incident.id)

    async def get(self, incident_id: str) -> Incident | None:
        raw: Any = await self._store.redis.hgetall(self._k("incident", incident_id))
        if not raw:
            return None
        return Incident(id=incident_id, **raw)

    async def reporters(self, incident_id: str) -> list[str]:
        people: Any = await self._store.redis.hkeys(self._k("incident", incident_id) + ":reporters")
        return sorted(people)

    async def open_ones(self) -> list[Incident]:
        ids: list[str] = sorted(await self._store.redis.smembers(self._k("incidents")))  # type: ignore[arg-type]
        found = [await self.get(i) for i in ids]
        return [i for i in found if i is not None and i.status == "open"]

    async def close(self, incident: Incident) -> bool:
        """Close an open incident; False when it was not open. Reports start counting anew."""
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self._k("incident", incident.id), "status")
            pipe.hset(self._k("incident", incident.id), "status", "closed")
            pipe.delete(self._k("open", incident.key), self._k("reports", incident.key))
            was, *_ = await pipe.execute()
        return bool(was == "open")

    def _k(self, *parts: str) -> str:
        return self._store.key("outage", *parts)
