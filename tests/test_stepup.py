"""Step-up checks against a sandbox org on real Redis: factor choice, pushes answered at the
provider and read back, codes checked by the desk or by the provider, retries, lock-out,
expiry, replay, throttling, withdrawal, what is kept in Redis, and change notices."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from adapters.checks.sandbox import CheckClosed, SandboxChecks
from bot.clock import ManualClock
from bot.masking import mask_email
from bot.models import FactorKind, Person
from bot.org import load_org
from bot.policy import PolicyEngine
from bot.ports import (
    CheckRequest,
    Checks,
    CheckState,
    IssuedCheck,
    OutboxItem,
    Reach,
    Unsupported,
)
from bot.store import Store
from bot.verifying import PolicyCheckLimits
from bot.world import SandboxWorld
from verification.codes import codes_in
from verification.notify import notify_change
from verification.stepup import (
    CheckOutcome,
    CheckResult,
    LockedOut,
    NoFactor,
    StepUp,
    Throttled,
)

# tests/ is not a package, so conftest's SHARED cannot be imported; same path as there
SHARED = Path(__file__).resolve().parents[2] / "shared"
ORG = load_org(SHARED / "scenarios" / "orgs" / "globex.yaml")
LIMITS = PolicyCheckLimits(PolicyEngine())  # the shipped step-up limits


@pytest.fixture
def clock() -> ManualClock:
    assert ORG.now is not None
    return ManualClock(ORG.now)


@pytest.fixture
async def world(store: Store, clock: ManualClock) -> SandboxWorld:
    return await SandboxWorld.create(store.child("world"), ORG, clock)


@pytest.fixture
def stepup(store: Store, clock: ManualClock, world: SandboxWorld) -> StepUp:
    return StepUp(store, clock, world.directory, world.checks, LIMITS)


async def person(world: SandboxWorld, username: str) -> Person:
    found = await world.directory.person(username)
    assert found is not None
    return found


async def newest_pending(world: SandboxWorld, username: str, kind: str) -> OutboxItem:
    """What the person sees: the newest pending push, or code, on their phone."""
    items = [i for i in await world.outbox.items(username) if i.kind == kind]
    assert items, f"nothing of kind {kind} sent to {username}"
    assert items[-1].status == "pending"
    return items[-1]


async def item_status(world: SandboxWorld, item_id: str) -> str:
    item = await world.outbox.item(item_id)
    assert item is not None
    return item.status


async def phone_item(world: SandboxWorld, check_id: str | None) -> OutboxItem:
    assert check_id is not None
    item = await world.checks.delivered(check_id)
    assert item is not None
    return item


async def press(
    world: SandboxWorld, stepup: StepUp, who: Person, push: OutboxItem, *, approve: bool
) -> CheckResult:
    """The person answers the push on their phone; then the desk is told to look."""
    assert push.ref is not None
    await world.checks.answer(push.ref, approve=approve)
    return await stepup.answer_push(who, push.ref)


async def wrong_code(world: SandboxWorld, username: str) -> str:
    return await wrong_code_for(await newest_pending(world, username, "code"))


async def wrong_code_for(item: OutboxItem) -> str:
    assert item.secret is not None
    return f"{(int(item.secret) + 1) % 1_000_000:06d}"


class RecordingChecks:
    """A check provider that records what the desk asks of it, around another one; it can
    be told to lack `withdraw`, as some providers do."""

    def __init__(self, checks: Checks, *, can_withdraw: bool = True) -> None:
        self._checks = checks
        self._can_withdraw = can_withdraw
        self.issued: list[CheckRequest] = []
        self.withdrawn: list[str] = []

    async def reachable(self, username: str) -> tuple[Reach, ...]:
        return await self._checks.reachable(username)

    async def issue(self, request: CheckRequest) -> IssuedCheck:
        self.issued.append(request)
        return await self._checks.issue(request)

    async def result(self, check_id: str) -> CheckState:
        return await self._checks.result(check_id)

    async def verify_code(self, check_id: str, code: str) -> bool:
        return await self._checks.verify_code(check_id, code)

    async def withdraw(self, check_id: str) -> None:
        self.withdrawn.append(check_id)
        if not self._can_withdraw:
            raise Unsupported("withdraw")
        await self._checks.withdraw(check_id)


# --- issuing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factors", "chosen", "kind"),
    [
        (("sms", "push", "email", "totp"), "push", "push"),
        (("email", "sms", "totp"), "totp", "code"),
        (("email", "sms"), "sms", "code"),
        (("email",), "email", "code"),
    ],
)
async def test_the_strongest_registered_factor_is_chosen(
    world: SandboxWorld,
    stepup: StepUp,
    factors: tuple[FactorKind, ...],
    chosen: FactorKind,
    kind: str,
) -> None:
    for factor in ("push", "totp", "sms", "email"):
        await world.directory.enrol_factor("bob", factor)
    await world.directory.set_factors("bob", factors)
    bob = await person(world, "bob")

    challenge = await stepup.challenge(bob, "case-1")

    assert (challenge.factor, challenge.kind) == (chosen, kind)
    item = await newest_pending(world, "bob", kind)
    assert item.ref == challenge.check_id
    assert item.channel == chosen
    assert item.address == challenge.address
    assert item.address == await world.directory.factor_address("bob", chosen)
    assert challenge.verifier == ("provider" if kind == "push" else "desk")


async def test_a_factor_the_provider_cannot_reach_is_passed_over(
    store: Store, clock: ManualClock
) -> None:
    world = await SandboxWorld.create(store.child("w"), ORG, clock, unsupported={"push"})
    stepup = StepUp(store, clock, world.directory, world.checks, LIMITS)
    alice = await person(world, "alice")
    assert alice.factors[:2] == ("push", "sms")

    challenge = await stepup.challenge(alice, "case-1")

    assert (challenge.factor, challenge.kind) == ("sms", "code")
    assert [i.kind for i in await world.outbox.items("alice")] == ["code"]
    assert await stepup.pending("alice") == challenge
    await world.directory.set_factors("alice", ("push",))
    with pytest.raises(NoFactor):
        await stepup.challenge(await person(world, "alice"), "case-2")
    assert await stepup.pending("alice") == challenge  # the failed attempt left nothing open


async def test_no_usable_factor_raises_no_factor(world: SandboxWorld, stepup: StepUp) -> None:
    bob = await person(world, "bob")
    await world.directory.reset_factors("bob")  # registered once, gone from the directory now
    with pytest.raises(NoFactor):
        await stepup.challenge(bob, "case-1")
    assert await world.outbox.items("bob") == []


async def test_a_new_challenge_withdraws_the_pending_one_of_the_case(
    world: SandboxWorld, stepup: StepUp
) -> None:
    bob = await person(world, "bob")
    first = await stepup.challenge(bob, "case-1")
    other_case = await stepup.challenge(bob, "case-2")
    second = await stepup.challenge(bob, "case-1")

    assert first.check_id is not None
    assert (await world.checks.result(first.check_id)).status == "withdrawn"
    assert (await phone_item(world, first.check_id)).status == "withdrawn"
    assert (await phone_item(world, other_case.check_id)).status == "pending"
    assert await stepup.pending("bob") == second


async def test_a_check_that_cannot_be_sent_leaves_no_challenge_open(
    world: SandboxWorld, store: Store, clock: ManualClock
) -> None:
    class Down(RecordingChecks):
        async def issue(self, request: CheckRequest) -> IssuedCheck:
            raise ConnectionError("the provider is down")

    stepup = StepUp(store, clock, world.directory, Down(world.checks), LIMITS)
    with pytest.raises(ConnectionError):
        await stepup.challenge(await person(world, "alice"), "case-1")
    assert await stepup.pending("alice") is None
    assert await world.outbox.items("alice") == []


# --- pushes -------------------------------------------------------------------------------


async def test_an_approved_push_passes_once(world: SandboxWorld, stepup: StepUp) -> None:
    alice = await person(world, "alice")
    challenge = await stepup.challenge(alice, "case-1")
    push = await newest_pending(world, "alice", "push")
    assert push.ref == challenge.check_id
    assert push.secret is None
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=10)

    result = await press(world, stepup, alice, push, approve=True)

    assert result.outcome is CheckOutcome.PASSED
    assert result.case_id == "case-1"
    assert await item_status(world, push.id) == "approved"
    assert await stepup.pending("alice") is None
    again = await stepup.answer_push(alice, push.ref or "")  # the signal, replayed
    assert again.outcome is CheckOutcome.REPLAYED
    with pytest.raises(CheckClosed):
        await world.checks.answer(push.ref or "", approve=False)  # the phone: answered


async def test_the_desk_reads_the_answer_not_the_turn(world: SandboxWorld, stepup: StepUp) -> None:
    alice = await person(world, "alice")
    await stepup.challenge(alice, "case-1")
    push = await newest_pending(world, "alice", "push")

    early = await stepup.answer_push(alice, push.ref or "")  # nothing answered it yet

    assert (early.outcome, early.case_id) == (CheckOutcome.WAITING, "case-1")
    assert await stepup.failures("case-1") == 0
    assert await item_status(world, push.id) == "pending"
    denied = await press(world, stepup, alice, push, approve=False)
    assert denied.outcome is CheckOutcome.FAILED


async def test_a_denied_push_fails_and_a_new_challenge_passes(
    world: SandboxWorld, stepup: StepUp
) -> None:
    alice = await person(world, "alice")
    await stepup.challenge(alice, "case-1")
    denied = await newest_pending(world, "alice", "push")

    result = await press(world, stepup, alice, denied, approve=False)

    assert (result.outcome, result.failures_in_row) == (CheckOutcome.FAILED, 1)
    assert await item_status(world, denied.id) == "denied"
    assert await stepup.pending("alice") is None
    signalled_again = await stepup.answer_push(alice, denied.ref or "")
    assert (signalled_again.outcome, signalled_again.failures_in_row) == (
        CheckOutcome.REPLAYED,
        1,
    )
    await stepup.challenge(alice, "case-1")
    retry = await newest_pending(world, "alice", "push")
    assert retry.ref != denied.ref
    passed = await press(world, stepup, alice, retry, approve=True)
    assert (passed.outcome, passed.failures_in_row) == (CheckOutcome.PASSED, 0)
    assert await stepup.failures("case-1") == 0


async def test_someone_elses_push_is_no_challenge_and_changes_nothing(
    world: SandboxWorld, stepup: StepUp
) -> None:
    alice, carol = await person(world, "alice"), await person(world, "carol")
    challenge = await stepup.challenge(alice, "case-1")
    push = await newest_pending(world, "alice", "push")
    await world.checks.answer(push.ref or "", approve=True)

    result = await stepup.answer_push(carol, push.ref or "")
    assert result.outcome is CheckOutcome.NO_CHALLENGE
    assert (result.case_id, result.challenge) == (None, None)
    unknown = await stepup.answer_push(alice, "not-a-check")

    assert unknown.outcome is CheckOutcome.NO_CHALLENGE
    assert await stepup.pending("alice") == challenge
    assert await stepup.failures("case-1") == 0
    mine = await stepup.answer_push(alice, push.ref or "")
    assert mine.outcome is CheckOutcome.PASSED


async def test_a_push_the_provider_let_expire_reads_as_expired_and_counts_as_failed(
    world: SandboxWorld, store: Store, clock: ManualClock
) -> None:
    class Expiring(RecordingChecks):
        async def result(self, check_id: str) -> CheckState:
            return CheckState(status="expired")  # a provider with a shorter limit than ours

    stepup = StepUp(store, clock, world.directory, Expiring(world.checks), LIMITS)
    alice = await person(world, "alice")
    challenge = await stepup.challenge(alice, "case-1")

    result = await stepup.answer_push(alice, challenge.check_id or "")

    assert result.outcome is CheckOutcome.EXPIRED
    assert result.challenge is not None
    assert result.challenge.status == "expired"
    assert await stepup.failures("case-1") == 1  # timed out unanswered: a failed check
    assert await stepup.pending("alice") is None
    for _ in range(2):  # ignored twice more: self-service ends, as for three denials
        again = await stepup.challenge(alice, "case-1")
        result = await stepup.answer_push(alice, again.check_id or "")
    assert result.outcome is CheckOutcome.LOCKED_OUT


# --- codes --------------------------------------------------------------------------------


async def test_the_right_code_passes_and_is_single_use(world: SandboxWorld, stepup: StepUp) -> None:
    bob = await person(world, "bob")
    challenge = await stepup.challenge(bob, "case-1")
    item = await newest_pending(world, "bob", "code")
    assert item.secret is not None
    assert len(item.secret) == 6
    assert item.secret.isdigit()
    assert item.expires_at == challenge.expires_at

    result = await stepup.answer_code(bob, f"the code is {item.secret[:3]} {item.secret[3:]}")

    assert result is not None
    assert result.outcome is CheckOutcome.PASSED
    assert await stepup.pending("bob") is None
    replay = await stepup.answer_code(bob, item.secret)
    assert replay is not None
    assert replay.outcome is CheckOutcome.REPLAYED
    assert await stepup.answer_code(bob, f"and my ticket is {await wrong_code_for(item)}") is None


async def test_a_wrong_code_fails_and_the_right_one_then_passes(
    world: SandboxWorld, stepup: StepUp
) -> None:
    bob = await person(world, "bob")
    challenge = await stepup.challenge(bob, "case-1")
    item = await newest_pending(world, "bob", "code")

    wrong = await stepup.answer_code(bob, await wrong_code(world, "bob"))

    assert wrong is not None
    assert (wrong.outcome, wrong.failures_in_row) == (
        CheckOutcome.FAILED,
        1,
    )
    assert await stepup.pending("bob") == challenge
    right = await stepup.answer_code(bob, item.secret or "")
    assert right is not None
    assert (right.outcome, right.failures_in_row) == (
        CheckOutcome.PASSED,
        0,
    )


async def test_several_codes_in_one_message_count_as_one_wrong_answer(
    world: SandboxWorld, stepup: StepUp
) -> None:
    bob = await person(world, "bob")
    await stepup.challenge(bob, "case-1")
    item = await newest_pending(world, "bob", "code")

    guess = await stepup.answer_code(bob, f"{item.secret} or {await wrong_code(world, 'bob')}")

    assert guess is not None
    assert guess.outcome is CheckOutcome.FAILED
    assert await stepup.failures("case-1") == 1


@pytest.fixture
async def provider_codes(store: Store, clock: ManualClock, world: SandboxWorld) -> StepUp:
    """Step-up over a provider that sends and checks SMS codes itself (Twilio Verify)."""
    checks = SandboxChecks(
        store.child("provider"), clock, world.directory, world.outbox, provider_codes={"sms"}
    )
    return StepUp(store, clock, world.directory, checks, LIMITS)


async def test_a_code_the_provider_checks_is_judged_by_it(
    world: SandboxWorld, provider_codes: StepUp, store: Store
) -> None:
    bob = await person(world, "bob")
    challenge = await provider_codes.challenge(bob, "case-1")
    assert (challenge.kind, challenge.verifier) == ("code", "provider")
    item = await newest_pending(world, "bob", "code")
    assert item.secret is not None
    assert item.secret in item.text
    digests = [k async for k in store.redis.scan_iter(match=f"{store.key('stepup', 'code')}:*")]
    assert digests == []  # the desk never had this code

    wrong = await provider_codes.answer_code(bob, await wrong_code_for(item))
    right = await provider_codes.answer_code(bob, item.secret)
    replay = await provider_codes.answer_code(bob, item.secret)

    assert wrong is not None
    assert (wrong.outcome, wrong.failures_in_row) == (CheckOutcome.FAILED, 1)
    assert right is not None
    assert right.outcome is CheckOutcome.PASSED
    assert replay is not None
    assert replay.outcome is CheckOutcome.REPLAYED
    assert await item_status(world, item.id) == "used"
    assert await provider_codes.answer_code(bob, await wrong_code_for(item)) is None


@pytest.fixture
async def desks(
    redis_url: str, store: Store, clock: ManualClock, world: SandboxWorld
) -> AsyncIterator[list[StepUp]]:
    """Four desk processes' step-up over one Redis, each with its own warmed-up connection,
    so that their answers really interleave."""
    clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(4)]
    try:
        for client in clients:
            await client.ping()
        yield [
            StepUp(Store(client, store.namespace), clock, world.directory, world.checks, LIMITS)
            for client in clients
        ]
    finally:
        for client in clients:
            await client.aclose()


async def test_a_code_typed_at_once_to_several_desks_passes_once(
    world: SandboxWorld, desks: list[StepUp]
) -> None:
    bob = await person(world, "bob")
    for case in range(5):
        await desks[0].challenge(bob, f"case-{case}")
        code = (await newest_pending(world, "bob", "code")).secret or ""

        results = await asyncio.gather(*(desk.answer_code(bob, code) for desk in desks))

        outcomes = sorted(r.outcome for r in results if r is not None)
        assert outcomes == [CheckOutcome.PASSED] + [CheckOutcome.REPLAYED] * 3


async def test_a_push_signalled_at_once_to_several_desks_passes_once(
    world: SandboxWorld, desks: list[StepUp]
) -> None:
    alice = await person(world, "alice")
    for case in range(5):
        await desks[0].challenge(alice, f"case-{case}")
        ref = (await newest_pending(world, "alice", "push")).ref or ""
        await world.checks.answer(ref, approve=True)

        results = await asyncio.gather(*(desk.answer_push(alice, ref) for desk in desks))

        outcomes = sorted(r.outcome for r in results)
        assert outcomes == [CheckOutcome.PASSED] + [CheckOutcome.REPLAYED] * 3


async def test_ordinary_text_is_not_an_answer(world: SandboxWorld, stepup: StepUp) -> None:
    bob, alice = await person(world, "bob"), await person(world, "alice")
    await stepup.challenge(bob, "case-1")
    await stepup.challenge(alice, "case-2")  # a push: there is no code to type

    assert await stepup.answer_code(bob, "thanks! the VPN still drops though") is None
    assert await stepup.answer_code(bob, "call me on +44 7700 900123") is None
    assert await stepup.answer_code(alice, "123456") is None
    assert await stepup.failures("case-1") == 0
    assert await stepup.failures("case-2") == 0


def test_codes_are_found_in_what_people_type() -> None:
    assert codes_in("it's 123 456") == ["123456"]
    assert codes_in("12-34-56, I think") == ["123456"]
    assert codes_in("ticket 1234567") == []
    assert codes_in("+44 7700 900123") == []
    assert codes_in("111111 or 222222") == ["111111", "222222"]


# --- failures, expiry, throttling ---------------------------------------------------------


async def test_the_third_failure_in_a_row_locks_the_case_out(
    world: SandboxWorld, stepup: StepUp
) -> None:
    bob = await person(world, "bob")
    challenge = await stepup.challenge(bob, "case-1")
    item = await newest_pending(world, "bob", "code")
    wrong = await wrong_code(world, "bob")

    outcomes = [await stepup.answer_code(bob, wrong) for _ in range(3)]

    assert [(r.outcome, r.failures_in_row) for r in outcomes if r] == [
        (CheckOutcome.FAILED, 1),
        (CheckOutcome.FAILED, 2),
        (CheckOutcome.LOCKED_OUT, 3),
    ]
    assert outcomes[-1] is not None
    assert outcomes[-1].challenge is not None
    assert outcomes[-1].challenge.status == "failed"
    late = await stepup.answer_code(bob, item.secret or "")
    assert late is not None
    assert late.outcome is CheckOutcome.NO_CHALLENGE
    assert await stepup.pending("bob") is None
    # the provider is told no answer counts any more
    assert (await world.checks.result(challenge.check_id or "")).status == "withdrawn"
    assert await item_status(world, item.id) == "withdrawn"
    with pytest.raises(LockedOut):
        await stepup.challenge(bob, "case-1")


async def test_failures_in_a_row_count_across_challenges_of_a_case(
    world: SandboxWorld, stepup: StepUp
) -> None:
    alice = await person(world, "alice")
    outcomes = []
    for _ in range(3):
        await stepup.challenge(alice, "case-1")
        push = await newest_pending(world, "alice", "push")
        outcomes.append((await press(world, stepup, alice, push, approve=False)).outcome)

    assert outcomes == [CheckOutcome.FAILED, CheckOutcome.FAILED, CheckOutcome.LOCKED_OUT]
    assert await stepup.failures("case-1") == 3
    assert await stepup.failures("case-2") == 0


async def test_a_pass_resets_the_failures_in_a_row(world: SandboxWorld, stepup: StepUp) -> None:
    bob = await person(world, "bob")
    await stepup.challenge(bob, "case-1")
    for _ in range(2):
        await stepup.answer_code(bob, await wrong_code(world, "bob"))
    await stepup.answer_code(bob, (await newest_pending(world, "bob", "code")).secret or "")
    await stepup.challenge(bob, "case-1")  # a second check on the same case, later

    result = await stepup.answer_code(bob, await wrong_code(world, "bob"))

    assert result is not None
    assert (result.outcome, result.failures_in_row) == (
        CheckOutcome.FAILED,
        1,
    )


async def test_a_code_expires_after_ten_minutes(
    world: SandboxWorld, store: Store, clock: ManualClock
) -> None:
    checks = RecordingChecks(world.checks)
    stepup = StepUp(store, clock, world.directory, checks, LIMITS)
    bob = await person(world, "bob")
    challenge = await stepup.challenge(bob, "case-1")
    item = await newest_pending(world, "bob", "code")

    clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
    assert await stepup.pending("bob") == challenge
    clock.advance(timedelta(seconds=1))
    assert await stepup.pending("bob") is None
    assert checks.withdrawn == []  # the provider expires it by itself
    result = await stepup.answer_code(bob, item.secret or "")

    assert result is not None
    assert result.outcome is CheckOutcome.EXPIRED
    assert await item_status(world, item.id) == "expired"
    assert await stepup.failures("case-1") == 0
    clock.advance(timedelta(minutes=10))  # long after: a number is just a number again
    assert await stepup.answer_code(bob, item.secret or "") is None


async def test_a_push_expires_after_ten_minutes(
    world: SandboxWorld, stepup: StepUp, clock: ManualClock
) -> None:
    alice = await person(world, "alice")
    await stepup.challenge(alice, "case-1")
    push = await newest_pending(world, "alice", "push")

    clock.advance(timedelta(minutes=10))
    with pytest.raises(CheckClosed):
        await world.checks.answer(push.ref or "", approve=True)  # too late on the phone too
    result = await stepup.answer_push(alice, push.ref or "")

    assert result.outcome is CheckOutcome.EXPIRED
    assert result.challenge is not None
    assert result.challenge.status == "expired"
    assert await item_status(world, push.id) == "expired"


async def test_a_cancelled_challenge_takes_no_answer(world: SandboxWorld, stepup: StepUp) -> None:
    bob = await person(world, "bob")
    await stepup.challenge(bob, "case-1")
    item = await newest_pending(world, "bob", "code")

    await stepup.cancel("case-1")

    assert await stepup.pending("bob") is None
    assert await item_status(world, item.id) == "withdrawn"
    assert await stepup.answer_code(bob, item.secret or "") is None


async def test_a_provider_that_cannot_withdraw_does_not_hold_the_desk_up(
    world: SandboxWorld, store: Store, clock: ManualClock
) -> None:
    checks = RecordingChecks(world.checks, can_withdraw=False)
    stepup = StepUp(store, clock, world.directory, checks, LIMITS)
    bob = await person(world, "bob")
    first = await stepup.challenge(bob, "case-1")
    item = await newest_pending(world, "bob", "code")

    second = await stepup.challenge(bob, "case-1")  # supersedes the first

    assert checks.withdrawn == [first.check_id]
    assert await stepup.pending("bob") == second
    assert await stepup.answer_code(bob, item.secret or "") is not None  # the old code ...
    assert await stepup.failures("case-1") == 1  # ... is a wrong answer to the new check


async def test_challenges_are_throttled_per_person_per_hour(
    world: SandboxWorld, stepup: StepUp, clock: ManualClock
) -> None:
    bob, carol = await person(world, "bob"), await person(world, "carol")
    for n in range(6):
        await stepup.challenge(bob, f"case-{n}")
        clock.advance(timedelta(minutes=1))

    with pytest.raises(Throttled) as throttled:
        await stepup.challenge(bob, "case-6")

    assert throttled.value.retry_after == 54 * 60  # the first one leaves the window at 60'
    await stepup.challenge(carol, "case-7")  # another person is not held back
    clock.advance(timedelta(minutes=54))
    await stepup.challenge(bob, "case-6")
    assert len(await world.outbox.items("bob")) == 7


# --- what is kept -------------------------------------------------------------------------


async def test_the_code_is_never_kept_in_plaintext(
    world: SandboxWorld, stepup: StepUp, store: Store
) -> None:
    bob = await person(world, "bob")
    challenge = await stepup.challenge(bob, "case-1")
    code = (await newest_pending(world, "bob", "code")).secret or ""
    await stepup.answer_code(bob, await wrong_code(world, "bob"))

    values: list[str] = []
    async for key in store.redis.scan_iter(match=f"{store.key('stepup')}:*"):
        kind = await store.redis.type(key)
        if kind == "string":
            values.append(str(await store.redis.get(key)))
        elif kind == "list":
            values.extend(map(str, await store.redis.lrange(key, 0, -1)))
        elif kind == "zset":
            values.extend(map(str, await store.redis.zrange(key, 0, -1)))
    joined = "\n".join(values)

    assert challenge.id in joined
    assert '"status":"pending"' in joined
    assert "pbkdf2-sha256$" in joined
    assert code not in joined
    assert code not in challenge.model_dump_json()


async def test_a_change_notice_reaches_every_address_without_a_secret(
    world: SandboxWorld, stepup: StepUp, clock: ManualClock
) -> None:
    alice, carol = await person(world, "alice"), await person(world, "carol")
    await world.directory.send_reset_link("alice")
    await world.directory.set_factors("alice", ("sms",))
    await stepup.challenge(alice, "case-1")

    to_alice = await notify_change(alice, "a password reset", world.directory, world.outbox, clock)
    to_carol = await notify_change(carol, "an MFA reset", world.directory, world.outbox, clock)

    phone = await world.directory.factor_address("alice", "sms")
    assert {(i.channel, i.address) for i in to_alice} == {
        ("email", mask_email(alice.email)),
        ("sms", phone),
    }
    carol_phone = await world.directory.factor_address("carol", "push")
    assert {(i.channel, i.address) for i in to_carol} == {
        ("email", mask_email(carol.email)),
        ("push", carol_phone),
    }
    minted = await world.outbox.secrets()
    assert len(minted) == 2
    for item in [*to_alice, *to_carol]:
        assert item.kind == "notification"
        assert item.secret is None
        assert "09:00 UTC" in item.text
        assert "wasn't you" in item.text
        assert not any(secret in item.text for secret in minted)
        assert item in await world.outbox.items(item.to)
    assert to_alice[0].text.startswith("A password reset for your account was requested")
    assert to_carol[0].text.startswith("An MFA reset for your account was requested")


async def test_a_challenge_recorded_before_the_checks_port_still_reads(
    world: SandboxWorld, stepup: StepUp, store: Store
) -> None:
    bob = await person(world, "bob")
    challenge = await stepup.challenge(bob, "case-1")
    key = store.key("stepup", "challenge", challenge.id)
    older = json.loads(await store.redis.get(key) or "{}")
    for field in ("check_id", "verifier"):
        older.pop(field)
    older["outbox_item"] = "ob-0123456789ab"  # what an older desk wrote
    await store.redis.set(key, json.dumps(older))
    code = (await newest_pending(world, "bob", "code")).secret or ""

    pending = await stepup.pending("bob")

    assert pending is not None
    assert (pending.id, pending.check_id, pending.verifier) == (challenge.id, None, "desk")
    passed = await stepup.answer_code(bob, code)
    assert passed is not None
    assert passed.outcome is CheckOutcome.PASSED
