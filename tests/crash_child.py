"""A desk process for tests/test_crash_recovery.py to kill: the Initech desk of the harness on
the test's Redis. The test drives a flow up to the turn that acts (`setup`) and stores that
turn; this process sends it, killing itself with SIGKILL at the chosen point of one of its
steps; a second run on the same Redis recovers (the sweep a starting process runs, or the
platform delivering the turn again).

    python tests/crash_child.py <redis-url> <namespace> <flow> <phase> [<point> <step>]

flow: unlock | grant | undo | offboard. phase: act | sweep | redeliver.
point: intent | write | readback | result (where in step number <step> to die).

Every backend write the skills make is listed in Redis (`crash:writes`) before it is made,
and every message the desk sends (`crash:told`), so the test can count them across both
processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from auditing import AUDIT_KEY
from harness import ORG, Conversation
from redis.asyncio import Redis

from adapters.chat.recording import RecordingChat
from bot.clock import ManualClock
from bot.models import Effect, Send, Turn, TurnKind
from bot.outcomes import StepOutcomes
from bot.state.actions import ActionRepository
from bot.state.audit import AuditLog
from bot.store import Store
from bot.wiring import sandbox_desk
from bot.world import SandboxWorld
from verification.stepup import CHECK_ANSWERED

WRITES = "crash:writes"
TOLD = "crash:told"
ACT_TURN = "crash:act-turn"
DIRECTORY_WRITES = ("set_locked", "set_disabled", "add_member", "remove_member",
                    "revoke_sessions", "reset_factors")  # fmt: skip


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Told:
    """The chat: every message sent, listed in Redis (and kept for the harness)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.chat = RecordingChat()

    async def deliver(self, effects: Sequence[Effect]) -> None:
        self.chat.record(list(effects))
        for effect in effects:
            if isinstance(effect, Send):
                row = {"to": effect.to.person or effect.to.channel or effect.to.conversation,
                       "text": effect.reply.text,
                       "card": effect.reply.card.kind if effect.reply.card else None}  # fmt: skip
                await self.redis.rpush(TOLD, json.dumps(row))


class Crash:
    """Where to die: at `point` of the step numbered `step` (0 = the first to run)."""

    def __init__(self, point: str | None, step: int) -> None:
        self.point, self.step = point, step
        self.seen: dict[str, int] = {}

    def at(self, point: str) -> None:
        count = self.seen.get(point, 0)
        self.seen[point] = count + 1
        if point == self.point and count == self.step:
            die()


def arm(crash: Crash, world: SandboxWorld, redis: Redis) -> None:
    """Wrap the desk's ledger and the sandbox directory so `crash` can strike."""
    directory = world.directory
    for name in DIRECTORY_WRITES:
        real = getattr(directory, name)

        async def write(*args: Any, _name: str = name, _real: Any = real, **kw: Any) -> Any:
            await redis.rpush(WRITES, json.dumps([_name, *map(str, args)]))
            result = await _real(*args, **kw)
            crash.at("write")
            return result

        setattr(directory, name, write)

    intend = ActionRepository.intend
    save = ActionRepository.save
    read_back = StepOutcomes.read_back

    async def intended(self: ActionRepository, intent: Any) -> None:
        await intend(self, intent)
        crash.at("intent")

    async def read(self: StepOutcomes, *args: Any) -> bool:
        there = await read_back(self, *args)
        if there:
            crash.at("readback")
        return there

    async def saved(self: ActionRepository, *args: Any, **kw: Any) -> None:
        await save(self, *args, **kw)
        crash.at("result")

    ActionRepository.intend = intended  # type: ignore[method-assign]
    StepOutcomes.read_back = read  # type: ignore[method-assign]
    ActionRepository.save = saved  # type: ignore[method-assign]


async def desk_on(store: Store, redis: Redis, *, reset: bool) -> tuple[Conversation, Told]:
    clock = ManualClock(ORG.now)  # type: ignore[arg-type]
    world = await SandboxWorld.create(store.child("world"), ORG, clock, reset=reset)
    told = Told(redis)
    wired = sandbox_desk(store, world, clock, outbound=told, audit=AuditLog(store, AUDIT_KEY))
    return Conversation(wired, world, told.chat), told


async def setup(desk: Conversation, flow: str) -> Turn:
    """Drive `flow` up to its acting turn, which is returned (not sent)."""
    if flow == "unlock":
        await desk.say("peter", "my account got locked after too many wrong passwords")
        return await answer_check(desk, "peter")
    if flow == "grant":
        await desk.say("zoe", "could I get read access to pipeline reports for 30 days? forecast")
        await desk.send(await answer_check(desk, "zoe"))
        button = desk.button("nina", "approve")
        return desk.turn("nina", TurnKind.CLICK, action=button.action, ref=button.ref,
                         event_id="act-1")  # fmt: skip
    if flow == "undo":
        await desk.send(await setup(desk, "grant"))
        button = desk.button("zoe", "undo")
        return desk.turn("zoe", TurnKind.CLICK, action=button.action, ref=button.ref,
                         event_id="act-2")  # fmt: skip
    if flow == "offboard":
        await desk.say("rita", "Samir Haddad leaves us on Friday, please offboard him")
        await desk.send(await answer_check(desk, "rita"))
        button = desk.button("nina", "approve")
        return desk.turn("nina", TurnKind.CLICK, action=button.action, ref=button.ref,
                         event_id="act-1")  # fmt: skip
    raise SystemExit(f"unknown flow {flow}")


async def answer_check(desk: Conversation, user: str) -> Turn:
    """The turn that answers `user`'s pending check (the phone answered first for a push)."""
    challenge = await desk.desk.stepup.pending(user)
    assert challenge is not None
    assert challenge.check_id is not None
    event_id = f"check-{user}"
    if challenge.kind == "push":
        await desk.world.checks.answer(challenge.check_id, approve=True)
        return desk.turn(user, TurnKind.CLICK, action=CHECK_ANSWERED, ref=challenge.check_id,
                         event_id=event_id)  # fmt: skip
    item = await desk.world.checks.delivered(challenge.check_id)
    assert item is not None
    return desk.turn(user, text=item.secret or "", event_id=event_id)


async def main(url: str, namespace: str, flow: str, phase: str, point: str, step: int) -> None:
    redis = Redis.from_url(url, decode_responses=True)
    store = Store(redis, namespace)
    desk, _ = await desk_on(store, redis, reset=False)
    act = Turn.model_validate_json(await redis.get(ACT_TURN) or "")
    arm(Crash(point if phase == "act" else None, step), desk.world, redis)
    if phase == "act":
        await send(desk, act)
        return
    if phase == "redeliver":
        await send(desk, act)  # the same turn again, as the platform (or inbox) redelivers it
    await desk.desk.recovery.start()  # what a process starting runs
    desk.clock.advance(timedelta(seconds=60))
    await desk.desk.scheduler.run_due()


async def send(desk: Conversation, turn: Turn) -> None:
    effects = await desk.desk.handle(turn.model_copy(update={"delivery": "inbox/1-0"}))
    assert desk.desk.outbound is not None
    await desk.desk.outbound.deliver(effects)
    await desk.desk.scheduler.run_due()


if __name__ == "__main__":
    url, namespace, flow, phase, *at = sys.argv[1:]
    asyncio.run(main(url, namespace, flow, phase, at[0] if at else "", int(at[1]) if at else 0))
