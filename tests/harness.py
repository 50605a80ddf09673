"""A desk driven one turn per call, for tests: `await desk.say("peter", "I'm locked out")`
is one turn over a sandbox world (the Initech org of the desk's acceptance suite) on a real
Redis, every effect recorded."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from auditing import AUDIT_KEY

from adapters.chat.recording import Message, RecordingChat, find_button
from bot.backends import Backends
from bot.cases import Case
from bot.clock import ManualClock
from bot.knowledge import KnowledgeBase
from bot.models import Button, Effect, Turn, TurnKind
from bot.org import load_org
from bot.outages import OutageConfig
from bot.policy import PolicyEngine
from bot.ports import Directory
from bot.scheduler import advance
from bot.settings import Settings
from bot.state.audit import AuditLog
from bot.store import Store
from bot.understanding import Understander
from bot.wiring import WiredDesk, build_desk, sandbox_desk
from bot.world import SandboxWorld
from verification.stepup import CHECK_ANSWERED

ORG = load_org(Path(__file__).resolve().parent / "desk_scenarios" / "orgs" / "initech.yaml")
PLATFORM = "scenario"  # a trusted local front end: the user id is the directory username


class Conversation:
    """A desk, its sandbox world and a recording chat, driven one turn per call."""

    def __init__(self, desk: WiredDesk, world: SandboxWorld, chat: RecordingChat) -> None:
        self.desk = desk
        self.world = world
        self.chat = chat
        assert isinstance(desk.clock, ManualClock)
        self.clock: ManualClock = desk.clock
        self._ids = itertools.count(1)

    # --- turns ---------------------------------------------------------------------------
    def turn(self, user: str, kind: TurnKind = TurnKind.MESSAGE, **fields: Any) -> Turn:
        fields.setdefault("conversation_id", f"dm:{user}")
        fields.setdefault("event_id", f"ev-{next(self._ids)}")
        return Turn(platform=PLATFORM, user_id=user, kind=kind, **fields)

    async def send(self, turn: Turn) -> list[Effect]:
        effects = await self.desk.handle(turn)
        self.chat.record(effects)
        await self.desk.scheduler.run_due()
        return effects

    async def say(self, user: str, text: str) -> list[Effect]:
        return await self.send(self.turn(user, text=text))

    async def command(self, user: str, text: str) -> list[Effect]:
        return await self.send(self.turn(user, TurnKind.COMMAND, text=text))

    async def click(self, user: str, button: Button, **fields: Any) -> list[Effect]:
        turn = self.turn(user, TurnKind.CLICK, action=button.action, ref=button.ref, **fields)
        return await self.send(turn)

    async def press(self, user: str, word: str, *, on: str | None = None) -> list[Effect]:
        """`user` presses the `word` button on the newest card in `on`'s DM (their own)."""
        return await self.click(user, self.button(on or user, word))

    async def verify(self, user: str, *, passes: bool = True) -> list[Effect]:
        """Answer the pending out-of-band check as the person would on their phone: a push
        there (then the phone tells the desk to look), a code read off it and typed."""
        challenge = await self.desk.stepup.pending(user)
        assert challenge is not None, f"no check is waiting for {user}"
        assert challenge.check_id is not None
        if challenge.kind == "push":
            await self.world.checks.answer(challenge.check_id, approve=passes)
            turn = self.turn(user, TurnKind.CLICK, action=CHECK_ANSWERED, ref=challenge.check_id)
            return await self.send(turn)
        item = await self.world.checks.delivered(challenge.check_id)
        assert item is not None
        code = item.secret or ""
        wrong = "".join(str((int(c) + 1) % 10) for c in code)
        return await self.say(user, code if passes else wrong)

    async def wait(self, **delta: float) -> None:
        await advance(self.clock, self.desk.scheduler, timedelta(**delta))

    # --- what happened -------------------------------------------------------------------
    def card_with(self, person: str, word: str) -> Message:
        for message in reversed(self.chat.dm(person)):
            if message.card is not None and find_button(message.card, word) is not None:
                return message
        raise AssertionError(f"no card in {person}'s DM offers {word}")

    def button(self, person: str, word: str) -> Button:
        card = self.card_with(person, word).card
        assert card is not None
        button = find_button(card, word)
        assert button is not None
        return button

    def said(self, effects: list[Effect]) -> list[str]:
        return [e.reply.text for e in effects]

    def dm_texts(self, person: str) -> list[str]:
        return [m.latest.text for m in self.chat.dm(person)]

    async def case(self, requester: str) -> Case:
        ids = await self.desk.cases.ids_of(requester)
        case = await self.desk.cases.get(ids[-1])
        assert case is not None
        return case

    async def actions(self) -> list[dict[str, Any]]:
        return [
            dict(r.record["data"])
            async for r in self.desk.audit.records()
            if r.record.get("type") == "action.executed"
        ]

    async def executed(self) -> list[tuple[str, dict[str, Any]]]:
        return [(a["skill"], a["args"]) for a in await self.actions()]

    async def groups_of(self, user: str) -> set[str]:
        person = await self.world.directory.person(user)
        assert person is not None
        return set(person.groups)


async def conversation(
    store: Store,
    understanding: Understander | None = None,
    *,
    policies: Path | None = None,
    unsupported: tuple[str, ...] = (),
    outage: OutageConfig | None = None,
    directory: Callable[[Directory], Directory] | None = None,
    settings: Settings | None = None,
    ports: Callable[[Backends], Backends] | None = None,
) -> Conversation:
    """A desk over Initech (the policies of `policies`, the shipped ones by default; a
    sandbox without the `unsupported` capabilities, as a real backend may be; its directory
    seen through `directory`, a test double around the sandbox's, if given; its ports as
    `ports` makes them from the sandbox's, if given)."""
    clock = ManualClock(ORG.now)  # type: ignore[arg-type]
    world = await SandboxWorld.create(
        store.child("world"), ORG, clock, reset=True, unsupported=unsupported
    )
    chat = RecordingChat()
    policy = PolicyEngine(policies) if policies else None
    audit = AuditLog(store, AUDIT_KEY)
    if directory is None and ports is None:
        wired = sandbox_desk(
            store, world, clock, outbound=chat, understanding=understanding, policy=policy,
            outage=outage, settings=settings, audit=audit,
        )  # fmt: skip
    else:
        backends = world.backends()
        if directory is not None:
            backends = dataclasses.replace(backends, directory=directory(world.directory))
        if ports is not None:
            backends = ports(backends)
        wired = build_desk(
            store, backends, clock, knowledge=KnowledgeBase.load(world.knowledge), outbound=chat,
            understanding=understanding, policy=policy, outage=outage, settings=settings,
            audit=audit,
        )  # fmt: skip
    return Conversation(wired, world, chat)


async def lacking(store: Store, *capabilities: str) -> Conversation:
    """A desk over a sandbox built without some capabilities, as a real backend may be."""
    return await conversation(store, unsupported=capabilities)
