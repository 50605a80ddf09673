"""Every skill against the sandbox world on real Redis: it acts and verifies, a retry (also
after a crash halfway) completes instead of repeating, Undo restores the state, preconditions
refuse what cannot be done, and no summary carries a secret."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.org import load_org
from bot.state.receipts import RedisReceipts
from bot.store import Store
from bot.texts import Text
from bot.world import SandboxWorld
from skills import default_skills
from skills.base import (
    CapabilityMissing,
    PreconditionFailed,
    Skill,
    SkillContext,
    SkillParams,
    SkillResult,
)
from skills.registry import SkillRegistry

# tests/ is not a package, so conftest's SHARED cannot be imported; same path as there
SHARED = Path(__file__).resolve().parents[2] / "shared"
GLOBEX = load_org(SHARED / "scenarios" / "orgs" / "globex.yaml")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

DIRECTORY_WRITES = (
    "set_locked", "set_disabled", "add_member", "remove_member", "revoke_sessions",
    "reset_factors", "create_person", "send_reset_link", "send_enrolment_link",
)  # fmt: skip
DEVICE_WRITES = ("install", "uninstall", "lock")

NEWBIE = {
    "username": "jdoe",
    "name": "Jane Doe",
    "email": "jane.doe@globex.test",
    "manager": "carol",
    "department": "Finance",
    "title": "Analyst",
}


@dataclass
class Writes:
    """Every write call the skills made on the world's adapters, by method name."""

    calls: list[str] = field(default_factory=list)
    crash_after: set[str] = field(default_factory=set)  # write, then fail once as if crashed

    def count(self, name: str) -> int:
        return self.calls.count(name)


def _spy(adapter: object, names: tuple[str, ...], writes: Writes) -> None:
    for name in names:
        original: Callable[..., Awaitable[Any]] = getattr(adapter, name)

        async def spied(*args: Any, _name: str = name, _call: Any = original, **kw: Any) -> Any:
            writes.calls.append(_name)
            result = await _call(*args, **kw)
            if _name in writes.crash_after:
                writes.crash_after.discard(_name)
                raise ConnectionError(f"lost the connection after {_name}")
            return result

        setattr(adapter, name, spied)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def world(store: Store, clock: ManualClock) -> SandboxWorld:
    return await SandboxWorld.create(store.child("world"), GLOBEX, clock)


@pytest.fixture
def writes(world: SandboxWorld) -> Writes:
    spy = Writes()
    _spy(world.directory, DIRECTORY_WRITES, spy)
    _spy(world.devices, DEVICE_WRITES, spy)
    return spy


@pytest.fixture
def registry() -> SkillRegistry:
    return default_skills()


async def context(world: SandboxWorld, requester: str, key: str = "case-1:1") -> SkillContext:
    person = await world.directory.person(requester)
    assert person is not None
    return SkillContext(
        directory=world.directory,
        devices=world.devices,
        receipts=RedisReceipts(world.store.child("desk"), key),
        tickets=world.tickets,
        clock=world.clock,
        requester=person,
        case_id=key.split(":")[0],
        idempotency_key=key,
    )


async def run(
    registry: SkillRegistry, ctx: SkillContext, name: str, args: dict[str, Any]
) -> tuple[Skill[Any], SkillParams, SkillResult]:
    """Preconditions, execute and verify, as the desk runs a skill."""
    skill = registry.get(name)
    params = skill.Params.model_validate(args)
    await skill.preconditions(ctx, params)
    result = await skill.execute(ctx, params)
    assert await skill.verify(ctx, params), f"{name} did not verify"
    return skill, params, result


@dataclass(frozen=True)
class Case:
    skill: str
    args: dict[str, Any]
    requester: str
    writes: tuple[str, ...]  # the adapter writes one execution makes, in order
    # a write a retry makes again under the request's key when its first answer was lost
    # (nothing recorded it): the backend de-duplicates it, so this kind of item reaches
    # the person once
    keyed: str | None = None


CASES = [
    Case("unlock_account", {"user": "alice"}, "alice", ("set_locked",)),
    Case("reset_password", {"user": "alice"}, "alice", ("send_reset_link",), "reset_link"),
    Case("reset_mfa", {"user": "bob"}, "bob", ("reset_factors", "send_enrolment_link")),
    Case("revoke_sessions", {"user": "carol"}, "carol", ("revoke_sessions",)),
    Case(
        "add_to_group",
        {"user": "alice", "group": "finance-reports", "days": 30},
        "alice",
        ("add_member",),
    ),
    Case(
        "remove_from_group", {"user": "bob", "group": "finance-reports"}, "bob", ("remove_member",)
    ),
    Case(
        "install_software",
        {"software": "zoom", "device": "LT-2001", "user": "alice"},
        "alice",
        ("install",),
    ),
    Case(
        "uninstall_software",
        {"software": "excel", "device": "DT-2003", "user": "bob"},
        "bob",
        ("uninstall",),
    ),
    Case("lock_device", {"device": "LT-2002", "user": "bob"}, "bob", ("lock",)),
    Case("disable_account", {"user": "bob"}, "grace", ("set_disabled",)),
    Case("enable_account", {"user": "ivan"}, "grace", ("set_disabled",)),
    Case("create_account", NEWBIE, "grace", ("create_person",)),
]
IDS = [case.skill for case in CASES]


def test_every_shipped_skill_has_a_case(registry: SkillRegistry) -> None:
    assert sorted(registry.names()) == sorted(IDS)


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_skill_acts_verifies_and_a_retry_is_a_no_op(
    case: Case, world: SandboxWorld, writes: Writes, registry: SkillRegistry
) -> None:
    ctx = await context(world, case.requester)
    _, _, first = await run(registry, ctx, case.skill, case.args)
    assert first.changed
    assert first.summary
    assert writes.calls == list(case.writes)

    _, _, again = await run(registry, ctx, case.skill, case.args)
    assert not again.changed
    assert writes.calls == list(case.writes), "the retry wrote again"


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_retry_after_a_crash_completes_without_repeating(
    case: Case, world: SandboxWorld, writes: Writes, registry: SkillRegistry
) -> None:
    # the backend took the first write, then the worker died before recording anything
    writes.crash_after.add(case.writes[0])
    ctx = await context(world, case.requester)
    skill = registry.get(case.skill)
    params = skill.Params.model_validate(case.args)
    with pytest.raises(ConnectionError):
        await skill.execute(ctx, params)

    result = await skill.execute(ctx, params)
    assert await skill.verify(ctx, params)
    repeated = [case.writes[0]] if case.keyed else []
    assert sorted(writes.calls) == sorted([*case.writes, *repeated]), "a write was repeated"
    if case.keyed:
        sent = [i for i in await world.outbox.items(case.requester) if i.kind == case.keyed]
        assert len(sent) == 1, "the retry sent a second one"
    else:  # only a multi-step skill had work left
        assert result.changed == (len(case.writes) > 1)


async def test_reset_mfa_retry_does_not_reset_again_after_the_link_went_out(
    world: SandboxWorld, writes: Writes, registry: SkillRegistry
) -> None:
    ctx = await context(world, "bob")
    await run(registry, ctx, "reset_mfa", {"user": "bob"})
    await world.directory.enrol_factor("bob", "push")  # bob follows the link at once

    skill = registry.get("reset_mfa")
    retry = await skill.execute(ctx, skill.Params.model_validate({"user": "bob"}))
    assert not retry.changed
    assert await world.directory.factor_resets("bob") == 1
    bob = await world.directory.person("bob")
    assert bob is not None
    assert bob.factors == ("push",)


async def test_a_retry_reads_the_receipt_not_the_outbox(
    world: SandboxWorld, writes: Writes, registry: SkillRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = await context(world, "alice")
    await run(registry, ctx, "reset_password", {"user": "alice"})

    async def gone(*args: object) -> None:
        raise AssertionError("a skill read the outbox")

    monkeypatch.setattr(world.outbox, "items", gone)
    monkeypatch.setattr(world.outbox, "item", gone)
    _, _, again = await run(registry, ctx, "reset_password", {"user": "alice"})
    assert not again.changed
    assert again.details == {"sent_to": await world.directory.recovery_address("alice")}
    assert writes.count("send_reset_link") == 1
    assert await ctx.receipts.get("reset_link") == {
        "user": "alice",
        "address": await world.directory.recovery_address("alice"),
    }


async def test_a_new_request_sends_a_new_link(world: SandboxWorld, registry: SkillRegistry) -> None:
    for key in ("case-1:1", "case-2:1"):
        ctx = await context(world, "alice", key)
        await run(registry, ctx, "reset_password", {"user": "alice"})
    links = [item for item in await world.outbox.items("alice") if item.kind == "reset_link"]
    assert len(links) == 2


UNDOABLE = [case for case in CASES if case.skill in {
    "add_to_group", "remove_from_group", "install_software", "uninstall_software",
    "disable_account", "enable_account",
}]  # fmt: skip


@pytest.mark.parametrize("case", UNDOABLE, ids=[case.skill for case in UNDOABLE])
async def test_undo_restores_the_state(
    case: Case, world: SandboxWorld, registry: SkillRegistry
) -> None:
    ctx = await context(world, case.requester)
    before = await world.snapshot()
    skill, params, result = await run(registry, ctx, case.skill, case.args)
    assert result.changed
    assert await world.snapshot() != before

    assert skill.inverse is not None
    undo_params = skill.undo_params(params)
    assert undo_params is not None
    await run(registry, ctx, skill.inverse, undo_params.model_dump())
    assert await world.snapshot() == before


def test_skills_without_an_inverse_offer_no_undo(registry: SkillRegistry) -> None:
    undoable = {skill.name for skill in registry.all() if skill.inverse is not None}
    assert undoable == {case.skill for case in UNDOABLE}


REFUSALS = [
    ("add_to_group", {"user": "alice", "group": "no-such-group"}, "unknown_group"),
    ("remove_from_group", {"user": "bob", "group": "no-such-group"}, "unknown_group"),
    ("add_to_group", {"user": "alice", "group": "finance-archive", "days": 31}, "access_too_long"),
    ("add_to_group", {"user": "nobody", "group": "finance"}, "unknown_user"),
    ("install_software", {"software": "zoom", "device": "LT-9999", "user": "alice"},
     "unknown_device"),
    ("install_software", {"software": "zoom", "device": "LT-2002", "user": "alice"},
     "not_your_device"),
    ("install_software", {"software": "photoshop", "device": "LT-2001", "user": "alice"},
     "not_in_catalogue"),
    ("uninstall_software", {"software": "photoshop", "device": "LT-2001", "user": "alice"},
     "not_in_catalogue"),
    ("uninstall_software", {"software": "slack", "device": "LT-2002", "user": "alice"},
     "not_your_device"),
    ("lock_device", {"device": "LT-9999", "user": "alice"}, "unknown_device"),
    ("lock_device", {"device": "LT-2004", "user": "alice"}, "not_your_device"),
    ("reset_password", {"user": "ivan"}, "account_disabled"),
    ("reset_mfa", {"user": "nobody"}, "unknown_user"),
    ("create_account", {**NEWBIE, "username": "bob"}, "username_taken"),
    ("create_account", {**NEWBIE, "email": "bob@globex.test"}, "email_taken"),
    ("create_account", {**NEWBIE, "manager": "nobody"}, "unknown_manager"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "text_key"), REFUSALS)
async def test_preconditions_refuse(
    name: str,
    args: dict[str, Any],
    text_key: str,
    world: SandboxWorld,
    writes: Writes,
    registry: SkillRegistry,
) -> None:
    skill = registry.get(name)
    with pytest.raises(PreconditionFailed) as refused:
        await skill.preconditions(await context(world, "alice"), skill.Params.model_validate(args))
    assert refused.value.text_key == text_key
    assert writes.calls == []


async def test_install_refuses_a_locked_device(
    world: SandboxWorld, registry: SkillRegistry
) -> None:
    ctx = await context(world, "bob")
    await run(registry, ctx, "lock_device", {"device": "LT-2002", "user": "bob"})
    skill = registry.get("install_software")
    params = skill.Params.model_validate({"software": "zoom", "device": "LT-2002", "user": "bob"})
    with pytest.raises(PreconditionFailed) as refused:
        await skill.preconditions(ctx, params)
    assert refused.value.text_key == "device_locked"


async def test_summaries_carry_no_secret_and_name_only_masked_addresses(
    world: SandboxWorld, registry: SkillRegistry
) -> None:
    texts: list[str] = []
    for case in CASES:
        ctx = await context(world, case.requester)
        for _ in range(2):  # the retry's summary too
            _, _, result = await run(registry, ctx, case.skill, case.args)
            texts.append(f"{registry.render(result.summary)} {result.details}")
    minted = await world.outbox.secrets()
    assert len(minted) == 2  # one reset link, one enrolment link
    for text in texts:
        assert not any(secret in text for secret in minted), text
        assert "http" not in text
        assert "globex.test/" not in text
    alice_to = await world.directory.recovery_address("alice")
    bob_to = await world.directory.recovery_address("bob")
    assert alice_to is not None
    assert bob_to == "b\u2022\u2022\u2022@globex.test"  # the enrolment link goes to e-mail
    assert f"I've sent a reset link to {alice_to}." in texts[2]
    assert bob_to in texts[4]
    assert GLOBEX.phone_of("alice") not in " ".join(texts)


async def test_summaries_speak_to_the_requester_or_name_the_person(
    world: SandboxWorld, registry: SkillRegistry
) -> None:
    own = await context(world, "bob")
    _, _, result = await run(registry, own, "revoke_sessions", {"user": "bob"})
    assert registry.render(result.summary) == "I've signed your account out everywhere."
    hr = await context(world, "grace")
    _, _, result = await run(registry, hr, "disable_account", {"user": "carol"})
    assert registry.render(result.summary) == "Carol Nguyen's account is disabled."


# --- backends without a capability -----------------------------------------------------------


async def test_unlock_without_the_capability_is_a_typed_miss_and_nothing_changes(
    store: Store, clock: ManualClock, registry: SkillRegistry
) -> None:
    world = await SandboxWorld.create(store.child("lacking"), GLOBEX, clock, unsupported={"unlock"})
    ctx = await context(world, "alice")
    skill = registry.get("unlock_account")
    params = skill.Params.model_validate({"user": "alice"})
    await skill.preconditions(ctx, params)
    with pytest.raises(CapabilityMissing) as missing:
        await skill.execute(ctx, params)
    assert missing.value.capability == "unlock"
    assert not isinstance(missing.value, PreconditionFailed)  # not a refusal of the request
    alice = await world.directory.person("alice")
    assert alice is not None
    assert alice.locked


async def test_revoking_without_session_counts_revokes_and_claims_no_count(
    store: Store, clock: ManualClock, registry: SkillRegistry
) -> None:
    world = await SandboxWorld.create(
        store.child("lacking"), GLOBEX, clock, unsupported={"session_count"}
    )
    ctx = await context(world, "carol")
    _, _, result = await run(registry, ctx, "revoke_sessions", {"user": "carol"})
    assert result.changed
    assert registry.render(result.summary) == (
        "I've signed your account out everywhere. The directory doesn't report sign-in "
        "sessions, so I can't say how many were open."
    )
    assert "no open sessions" not in registry.render(result.summary)
    assert result.details == {}
    assert await world.directory.revocations("carol") == 1
    skill = registry.get("revoke_sessions")
    retry = await skill.execute(ctx, skill.Params.model_validate({"user": "carol"}))
    assert (retry.changed, retry.summary) == (False, result.summary)
    assert await world.directory.revocations("carol") == 1  # the receipt said it was done


async def test_revoking_where_the_directory_cannot_is_a_typed_miss(
    store: Store, clock: ManualClock, registry: SkillRegistry
) -> None:
    world = await SandboxWorld.create(
        store.child("lacking"), GLOBEX, clock, unsupported={"revoke_sessions"}
    )
    ctx = await context(world, "carol")
    skill = registry.get("revoke_sessions")
    with pytest.raises(CapabilityMissing) as missing:
        await skill.execute(ctx, skill.Params.model_validate({"user": "carol"}))
    assert missing.value.capability == "revoke_sessions"
    assert await world.directory.sessions("carol") > 0


# --- the registry ---------------------------------------------------------------------------


class _Params(SkillParams):
    user: str


class _Good(Skill[_Params]):
    """A skill that does nothing."""

    name = "noop"
    texts = Path(__file__).parent / "skills_texts" / "en.toml"
    Params = _Params

    async def execute(self, ctx: SkillContext, params: _Params) -> SkillResult:
        return SkillResult(changed=False, summary=Text("skill.noop.nothing"))

    async def verify(self, ctx: SkillContext, params: _Params) -> bool:
        return True


class _SyncExecute(_Good):
    name = "sync_execute"

    def execute(self, ctx: SkillContext, params: _Params) -> SkillResult:  # type: ignore[override]
        return SkillResult(changed=False, summary=Text("skill.noop.nothing"))


class _NoParams(Skill[_Params]):
    """A skill that forgot its Params model."""

    name = "no_params"

    async def execute(self, ctx: SkillContext, params: _Params) -> SkillResult:
        return SkillResult(changed=False, summary=Text("skill.noop.nothing"))

    async def verify(self, ctx: SkillContext, params: _Params) -> bool:
        return True


class _PlainParams(_Good):
    name = "plain_params"
    Params = dict  # type: ignore[assignment]


class _DanglingInverse(_Good):
    name = "dangling"
    inverse = "not_registered"


def test_registry_rejects_a_duplicate() -> None:
    registry = SkillRegistry()
    registry.register(_Good())
    with pytest.raises(ValueError, match="twice"):
        registry.register(_Good())


@pytest.mark.parametrize(
    "skill", [_SyncExecute(), _NoParams(), _PlainParams()], ids=["sync", "no_params", "plain"]
)
def test_registry_rejects_a_malformed_skill(skill: Skill[Any]) -> None:
    with pytest.raises(TypeError):
        SkillRegistry().register(skill)


def test_registry_rejects_an_inverse_that_is_not_registered() -> None:
    registry = SkillRegistry()
    registry.register(_DanglingInverse())
    with pytest.raises(ValueError, match="not_registered"):
        registry.check_inverses()


def test_default_skills_are_the_ones_scenarios_name(registry: SkillRegistry) -> None:
    assert set(registry.names()) == {
        "unlock_account", "reset_password", "reset_mfa", "add_to_group", "remove_from_group",
        "install_software", "uninstall_software", "disable_account", "enable_account",
        "revoke_sessions", "lock_device", "create_account",
    }  # fmt: skip
    for skill in registry.all():
        assert type(skill).__doc__, f"{skill.name} has no docstring"
