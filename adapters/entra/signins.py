"""Entra's sign-in logs and Identity Protection as the desk reads them.

Graph has no "locked" property: Entra smart lockout locks a sign-in after repeated failures
(error 50053) and lets it go by itself after the lockout period. `RecentLockouts` says a
person is locked when their latest sign-in in the last `LOCKOUT_WINDOW` failed with 50053.
`EntraSignIns` is the `LockoutFeed`: such sign-ins as `locked`, and users Identity Protection
holds at high or medium risk as `risk`. Both read logs that need a Entra ID P1 (sign-ins) or
P2 (risky users) licence; where the tenant has none, they log it once and find nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import structlog

from adapters.entra.auth import EntraSettings, graph_tokens
from adapters.entra.graph import Graph, GraphError, PermissionMissing
from adapters.entra.records import USER_FIELDS, username_of
from bot.clock import Clock, SystemClock
from bot.ports import Lockout, LockoutPage, NotFoundError

log = structlog.get_logger("itdesk.entra")
Json = dict[str, Any]
LOCKED_OUT = 50053
LOCKOUT_WINDOW = timedelta(minutes=5)
# Entra writes sign-ins to the log minutes late: each poll looks this far behind the last
# event seen, and the cursor keeps the ids it saw there so none comes twice or is missed.
LATENESS = timedelta(minutes=15)
RISKY = frozenset({"high", "medium"})
SIGN_IN_FIELDS = "id,createdDateTime,userId,userPrincipalName,status"


def unlicensed(error: GraphError) -> bool:
    text = f"{error.code} {error.message}".lower()
    return error.status == 403 and ("premium" in text or "licen" in text)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _error_code(sign_in: Json) -> int | None:
    status = sign_in.get("status")
    code = status.get("errorCode") if isinstance(status, dict) else None
    return code if isinstance(code, int) else None


class _Unlicensed:
    """Logs once per source that the tenant lacks the licence (or the app the permission)
    to read it."""

    def __init__(self) -> None:
        self._said: set[str] = set()

    def note(self, source: str, error: GraphError) -> None:
        if source not in self._said:
            self._said.add(source)
            event = (
                "entra.unpermitted" if isinstance(error, PermissionMissing) else "entra.unlicensed"
            )
            log.warning(event, source=source, code=error.code, detail=str(error))


class RecentLockouts:
    """Whether a person is locked out now, from their recent sign-ins."""

    def __init__(self, graph: Graph, clock: Clock) -> None:
        self._graph = graph
        self._clock = clock
        self._unlicensed = _Unlicensed()

    async def locked(self, user_id: str) -> bool:
        since = _stamp(self._clock.now() - LOCKOUT_WINDOW)
        query = {"$filter": f"userId eq '{user_id}' and createdDateTime ge {since}",
                 "$select": SIGN_IN_FIELDS}  # fmt: skip
        try:
            sign_ins = await self._graph.all("/auditLogs/signIns", query)
        except GraphError as exc:
            # unreadable logs (no licence, or AuditLog.Read.All not granted) leave the lock
            # state unknown, said once; they must not stop every person from being read
            if not (unlicensed(exc) or isinstance(exc, PermissionMissing)):
                raise
            self._unlicensed.note("signIns", exc)
            return False
        latest = max(sign_ins, key=lambda s: str(s.get("createdDateTime", "")), default=None)
        return latest is not None and _error_code(latest) == LOCKED_OUT


class EntraSignIns:
    """The `LockoutFeed` over sign-in logs and risky users. The cursor is JSON: for each of
    `signins` and `risk`, the latest time seen (`at`), the ids seen within `LATENESS` of it,
    and when the first poll was (`since`: nothing from before it comes)."""

    def __init__(self, graph: Graph, clock: Clock) -> None:
        self._graph = graph
        self._clock = clock
        self._unlicensed = _Unlicensed()
        self._usernames: dict[str, str] = {}

    @classmethod
    def from_settings(
        cls,
        settings: EntraSettings,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> EntraSignIns:
        """The feed of the tenant the ITDESK_ENTRA_* settings name."""
        graph = Graph(settings.graph_url, graph_tokens(settings), timeout=settings.entra_timeout,
                      sleep=sleep, session=session)  # fmt: skip
        return cls(graph, clock or SystemClock())

    async def lockouts_since(self, cursor: str | None) -> LockoutPage:
        if cursor is None:
            now = _stamp(self._clock.now())
            mark = {"at": now, "since": now, "seen": []}  # nothing before `since` comes
            start = {"signins": mark, "risk": mark}
            return LockoutPage(cursor=json.dumps(start))
        state = json.loads(cursor)
        locked, state["signins"] = await self._read(state["signins"], self._sign_ins)
        risky, state["risk"] = await self._read(state["risk"], self._risky)
        return LockoutPage(lockouts=(*locked, *risky), cursor=json.dumps(state))

    async def _read(self, mark: Json, source: Any) -> tuple[list[Lockout], Json]:
        at = _when(mark["at"]) or self._clock.now()
        since, seen = _when(mark["since"]) or at, set(mark["seen"])
        found: list[tuple[datetime, str, Lockout | None]] = await source(at - LATENESS)
        lockouts = [lo for when, eid, lo in found
                    if eid not in seen and lo is not None and when >= since]  # fmt: skip
        latest = max([at, *(when for when, _, _ in found)])
        # every event the next poll reads again is among these: it starts LATENESS back
        keep = {eid for when, eid, _ in found if when >= latest - LATENESS}
        return lockouts, {"at": _stamp(latest), "since": mark["since"], "seen": sorted(keep)}

    async def _sign_ins(self, since: datetime) -> list[tuple[datetime, str, Lockout | None]]:
        query = {"$filter": f"status/errorCode eq {LOCKED_OUT} and createdDateTime ge "
                            f"{_stamp(since)}", "$select": SIGN_IN_FIELDS}  # fmt: skip
        found = []
        for item in await self._guarded("signIns", "/auditLogs/signIns", query):
            when = _when(item.get("createdDateTime"))
            username = await self._username(str(item.get("userId", "")))
            if when is None or not item.get("id"):
                continue
            lockout = None if username is None else Lockout(
                id=str(item["id"]), username=username, at=when, kind="locked", source="entra",
                reason="too many failed sign-ins (Entra smart lockout)")  # fmt: skip
            found.append((when, str(item["id"]), lockout))
        return found

    async def _risky(self, since: datetime) -> list[tuple[datetime, str, Lockout | None]]:
        query = {"$filter": f"riskLastUpdatedDateTime gt {_stamp(since)}"}
        found = []
        for item in await self._guarded("riskyUsers", "/identityProtection/riskyUsers", query):
            when = _when(item.get("riskLastUpdatedDateTime"))
            if when is None or not item.get("id"):
                continue
            event = f"risk:{item['id']}@{_stamp(when)}"
            at_risk = item.get("riskLevel") in RISKY and item.get("riskState") == "atRisk"
            username = await self._username(str(item["id"])) if at_risk else None
            lockout = (
                None
                if username is None
                else Lockout(
                    id=event,
                    username=username,
                    at=when,
                    kind="risk",
                    source="entra",
                    reason=f"Entra ID Protection rates the account's risk {item['riskLevel']}",
                )
            )
            found.append((when, event, lockout))  # fmt: skip
        return found

    async def _guarded(self, source: str, path: str, query: dict[str, str]) -> list[Json]:
        try:
            return await self._graph.all(path, query)
        except GraphError as exc:
            if not unlicensed(exc):
                raise
            self._unlicensed.note(source, exc)
            return []

    async def _username(self, user_id: str) -> str | None:
        if user_id not in self._usernames:
            try:
                user = await self._graph.get(f"/users/{user_id}", {"$select": USER_FIELDS})
            except NotFoundError:
                return None  # deleted since
            self._usernames[user_id] = username_of(user)
        return self._usernames[user_id] or None
