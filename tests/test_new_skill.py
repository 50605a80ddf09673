"""A skill added the way CONTRIBUTING.md says: one module (here, this file), its example
phrasings (tests/new_skill/) and a policy line. Registered like the shipped skills, with no
change to the registry, the Cedar schema, the planner or the understanding, it is
understood, planned, policed and audited like any other."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any, ClassVar

import pytest

from adapters.chat.recording import RecordingChat
from bot.cases import Case, CaseStatus
from bot.clock import ManualClock
from bot.intents import intent
from bot.models import Turn, TurnKind
from bot.org import load_org
from bot.policy import PolicyEngine, default_policy_dir
from bot.store import Store
from bot.wiring import WiredDesk, sandbox_desk
from bot.world import SandboxWorld
from skills import default_skills
from skills.base import Skill, SkillContext, SkillParams, SkillResult
from skills.planning import Ask, Lookups, Proposal
from skills.registry import SkillRegistry
from skills.targets import Username, require_active_person
from verification.stepup import CHECK_ANSWERED

HERE = Path(__file__).resolve().parent
GLOBEX = load_org(HERE.parents[1] / "shared" / "scenarios" / "orgs" / "globex.yaml")

# The policy line that lets the desk run it, behind a sign-in check.
POLICY = """
@id("self-service.mailbox-quota")
permit (principal, action == Action::"raise_mailbox_quota", resource)
when { principal == resource && context.subject == principal };

@id("step-up.mailbox-quota")
@route("step_up")
forbid (principal, action == Action::"raise_mailbox_quota", resource)
unless { context.verified || context.undo };
"""

ASKS = "hi, my mailbox is at its quota again, could you raise the mailbox quota for me?"


class QuotaParams(SkillParams):
    user: Username


class RaiseMailboxQuota(Skill[QuotaParams]):
    """Raise the person's mailbox quota one step."""

    name = "raise_mailbox_quota"
    texts = HERE / "new_skill" / "texts.toml"
    Params = QuotaParams
    intents = (intent(HERE / "new_skill", "mailbox_quota", "software", "more mailbox space"),)
    raised: ClassVar[list[str]] = []  # this test's mail system

    async def plan(self, ask: Ask, find: Lookups) -> Proposal:
        return Proposal(params={"user": ask.subject}, resource_id=ask.subject)

    async def preconditions(self, ctx: SkillContext, params: QuotaParams) -> None:
        await require_active_person(ctx, params.user)

    async def execute(self, ctx: SkillContext, params: QuotaParams) -> SkillResult:
        self.raised.append(params.user)
        return SkillResult(changed=True, summary=self.said("done"))

    async def verify(self, ctx: SkillContext, params: QuotaParams) -> bool:
        return params.user in self.raised


class Desk:
    """A desk with the new skill registered, over Globex, one turn per call."""

    def __init__(self, wired: WiredDesk, world: SandboxWorld) -> None:
        self.wired, self.world = wired, world
        self._ids = itertools.count(1)

    async def turn(self, user: str, kind: TurnKind = TurnKind.MESSAGE, **fields: Any) -> None:
        await self.wired.handle(
            Turn(
                platform="scenario",
                event_id=f"ev-{next(self._ids)}",
                user_id=user,
                conversation_id=f"dm:{user}",
                kind=kind,
                **fields,
            )
        )

    async def verify(self, user: str) -> None:
        challenge = await self.wired.stepup.pending(user)
        assert challenge is not None
        assert challenge.check_id is not None
        await self.world.checks.answer(challenge.check_id, approve=True)
        await self.turn(user, TurnKind.CLICK, action=CHECK_ANSWERED, ref=challenge.check_id)

    async def case(self, user: str) -> Case:
        case = await self.wired.cases.get((await self.wired.cases.ids_of(user))[-1])
        assert case is not None
        return case

    async def executed(self) -> list[dict[str, Any]]:
        return [
            dict(r.record["data"])
            async for r in self.wired.audit.records()
            if r.record.get("type") == "action.executed"
        ]


@pytest.fixture
def skills() -> SkillRegistry:
    RaiseMailboxQuota.raised.clear()
    registry = default_skills()
    registry.register(RaiseMailboxQuota())  # as skills/__init__.py registers every skill
    return registry


async def desk_with(store: Store, skills: SkillRegistry, policies: Path) -> Desk:
    clock = ManualClock(GLOBEX.now)  # type: ignore[arg-type]
    world = await SandboxWorld.create(store.child("world"), GLOBEX, clock, reset=True)
    policy = PolicyEngine(policies, skills=skills)
    wired = sandbox_desk(
        store, world, clock, outbound=RecordingChat(), skills=skills, policy=policy
    )
    await wired.warm_up()  # trains the understanding with the new intent's phrasings
    return Desk(wired, world)


def policy_folder(tmp_path: Path, *, with_line: bool) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(default_policy_dir(), folder)
    if with_line:
        (folder / "50-mailbox-quota.cedar").write_text(POLICY)
    return folder


async def test_a_new_skill_is_understood_policed_and_audited(
    store: Store, skills: SkillRegistry, tmp_path: Path
) -> None:
    desk = await desk_with(store, skills, policy_folder(tmp_path, with_line=True))
    await desk.turn("alice", text=ASKS)
    case = await desk.case("alice")
    assert case.intent == "mailbox_quota"
    assert case.status == CaseStatus.VERIFYING  # the policy line asks for a sign-in check
    assert RaiseMailboxQuota.raised == []

    await desk.verify("alice")
    case = await desk.case("alice")
    assert case.status == CaseStatus.RESOLVED
    assert RaiseMailboxQuota.raised == ["alice"]
    (action,) = await desk.executed()
    assert action["skill"] == "raise_mailbox_quota"
    assert action["args"] == {"user": "alice"}
    assert action["requested_by"] == "alice"
    assert "self-service.mailbox-quota" in action["policy"]
    assert action["verification"] is not None
    assert (await desk.wired.audit.verify()).ok


async def test_without_its_policy_line_the_new_skill_is_refused(
    store: Store, skills: SkillRegistry, tmp_path: Path
) -> None:
    desk = await desk_with(store, skills, policy_folder(tmp_path, with_line=False))
    await desk.turn("alice", text=ASKS)
    case = await desk.case("alice")
    assert case.intent == "mailbox_quota"
    assert case.status == CaseStatus.REFUSED  # no permit covers it: the desk may not
    assert RaiseMailboxQuota.raised == []
    assert await desk.executed() == []


def test_the_schema_and_the_catalogue_take_the_skill_from_its_declaration(
    skills: SkillRegistry, tmp_path: Path
) -> None:
    engine = PolicyEngine(policy_folder(tmp_path, with_line=True), skills=skills)
    assert "action raise_mailbox_quota in [request] appliesTo" in engine.schema
    assert skills.for_intent("mailbox_quota") is skills.get("raise_mailbox_quota")
    assert "mailbox_quota" in [spec.name for spec in skills.intents()]


def test_registration_refuses_a_skill_whose_declaration_is_off(tmp_path: Path) -> None:
    class Unplanned(RaiseMailboxQuota):
        name = "unplanned"
        plan = Skill.plan  # type: ignore[assignment]

    class Twin(RaiseMailboxQuota):
        name = "twin"

    class Speechless(RaiseMailboxQuota):
        name = "speechless"
        intents = ()

    class NoPhrasings(RaiseMailboxQuota):
        name = "no_phrasings"
        intents = (intent(tmp_path, "never_written", "other", "nothing"),)

    registry = default_skills()
    with pytest.raises(TypeError, match="does not say how it plans"):
        registry.register(Unplanned())
    registry.register(RaiseMailboxQuota())
    with pytest.raises(ValueError, match="served by raise_mailbox_quota and twin"):
        registry.register(Twin())
    with pytest.raises(ValueError, match="no phrasings"):
        registry.register(NoPhrasings())
    with pytest.raises(ValueError, match=r"no \[speechless\] title"):
        registry.register(Speechless())
