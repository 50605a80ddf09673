"""Redis commands and round trips per turn, through the desk's real path over a large
sandbox org (`bench.bigorg`) on a private embedded redis-server.

    .venv/bin/python -m bench.redis_per_turn [--people 5000] [--rounds 3] [--detail]

For three turns: "I'm locked out" (the message, then the push answered on the phone), a
runbook answer ("how do I set up the VPN") and an install ("install zoom"). Commands are the
server's `INFO commandstats` deltas (commands run inside MULTI or a Lua script count one by
one); round trips are the requests the desk's client wrote (a pipeline is one). Each round
uses people the rounds before did not, after one warm-up round. No assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from adapters.chat.recording import RecordingChat
from bench.bigorg import big_org
from bot.clock import ManualClock
from bot.models import Turn, TurnKind
from bot.observability import configure_logging
from bot.redis_server import EmbeddedRedis
from bot.store import Store
from bot.wiring import WiredDesk, sandbox_desk
from bot.world import SandboxWorld
from verification.stepup import CHECK_ANSWERED

IGNORED = {"info", "config"}  # the bench's own questions to the server


class CountingConnection(Connection):
    """A connection that counts the requests it writes (one per command or pipeline)."""

    writes = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.writes += 1
        await super().send_packed_command(command, check_health)


class Meter:
    """Commands (server side) and round trips (client side) spent by one turn."""

    def __init__(self, desk: WiredDesk, admin: Redis) -> None:
        self._desk = desk
        self._admin = admin

    async def turn(self, turn: Turn) -> tuple[int, int, Counter[str]]:
        await self._admin.config_resetstat()
        writes = CountingConnection.writes
        await self._desk.handle(turn)
        trips = CountingConnection.writes - writes
        stats = await self._admin.info("commandstats")
        per = Counter(
            {
                name.removeprefix("cmdstat_"): int(row["calls"])
                for name, row in stats.items()
                if name.removeprefix("cmdstat_") not in IGNORED
            }
        )
        return sum(per.values()), trips, per


async def _push_answered(desk: WiredDesk, world: SandboxWorld, user: str, event: str) -> Turn:
    """The person approves the push on their phone (not measured); the turn that follows."""
    check = await desk.stepup.pending(user)
    assert check is not None
    assert check.check_id is not None
    assert check.kind == "push"
    await world.checks.answer(check.check_id, approve=True)
    return _turn(user, event, "", action=CHECK_ANSWERED, ref=check.check_id)


async def _run(people: int, rounds: int, detail: bool) -> None:
    configure_logging("WARNING", "console")
    org = big_org(people)
    generated = [p.username for p in org.people() if p.username.startswith("u")]
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persistent=False)
        await server.start()
        redis = Redis.from_url(
            server.url, decode_responses=True, connection_class=CountingConnection
        )
        admin = Redis.from_url(server.url, decode_responses=True)
        rows: dict[str, list[tuple[int, int, Counter[str]]]] = {}
        try:
            store = Store(redis, "bench")
            clock = ManualClock(org.now or datetime.now(UTC))
            world = await SandboxWorld.create(store.child("world"), org, clock, reset=True)
            desk = sandbox_desk(store, world, clock, outbound=RecordingChat())
            await desk.warm_up()
            meter = Meter(desk, admin)
            for n in range(rounds + 1):
                locked, asker, installer = generated[3 * n + 10 : 3 * n + 13]
                await world.directory.set_locked(locked, True)
                said = [
                    ("locked out: message", await meter.turn(
                        _turn(locked, f"l{n}", "I'm locked out of my account"))),
                    ("locked out: push answered", await meter.turn(
                        await _push_answered(desk, world, locked, f"p{n}"))),
                    ("runbook answer", await meter.turn(
                        _turn(asker, f"k{n}", "how do I set up the VPN"))),
                    ("install zoom", await meter.turn(_turn(installer, f"i{n}", "install zoom"))),
                ]  # fmt: skip
                for name, figures in said if n else ():  # round 0 warms pool and caches
                    rows.setdefault(name, []).append(figures)
            await _check(world, generated[13:16])
        finally:
            await redis.aclose()
            await admin.aclose()
            await server.stop()
    print(f"org: {len(org.users)} people, {len(org.devices)} devices; rounds: {rounds}")
    print(f"{'turn':28} {'commands':>9} {'round trips':>12}")
    for name, figures in rows.items():
        commands = max(f[0] for f in figures)
        trips = max(f[1] for f in figures)
        print(f"{name:28} {commands:9d} {trips:12d}")
        if detail:
            top = figures[-1][2].most_common()
            print("    " + ", ".join(f"{cmd} {calls}" for cmd, calls in top))


async def _check(world: SandboxWorld, people: list[str]) -> None:
    """That the turns did what they say (else the counts would be of something else)."""
    locked, _, installer = people
    person = await world.directory.person(locked)
    assert person is not None
    assert not person.locked, "the unlock did not happen"
    laptops = await world.devices.devices_of(installer)
    assert any("zoom" in d.installed for d in laptops), "zoom was not installed"


def _turn(
    user: str, event: str, text: str, *, action: str | None = None, ref: str | None = None
) -> Turn:
    return Turn(
        platform="web",
        event_id=event,
        user_id=user,
        conversation_id=f"dm:{user}",
        kind=TurnKind.CLICK if action else TurnKind.MESSAGE,
        text=text,
        action=action,
        ref=ref,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--detail", action="store_true", help="commands by name, last round")
    args = parser.parse_args()
    asyncio.run(_run(args.people, args.rounds, args.detail))


if __name__ == "__main__":
    main()
