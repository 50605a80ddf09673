"""Step-up checks against a sandbox org on real Redis: factor choice, pushes, codes, retries,
lock-out, expiry, replay, throttling, what is kept in Redis, and change notices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.clock import ManualClock
from bot.masking import mask_email
from bot.models import FactorKind, Person
from bot.org import load_org
from bot.ports import Outbox, OutboxItem, OutboxStatus
from bot.store import Store
from bot.world import SandboxWorld
from verification.codes import codes_in
from verification.notify import notify_change
from verification.stepup import (
    CheckOutcome,
    LockedOut,
    NoFactor,
    StepUp,
    Throttled,
)

# tests/ is not a package, so conftest's SHARED cannot be imported; same path as there
SHARED = Path(__file__).resolve().parents[2] / "shared"
ORG = load_org(SHARED / "scenarios" / "orgs" / "globex.yaml")


@pytest.fixture
def clock() -> ManualClock:
    assert ORG.now is not None
    return ManualClock(ORG.now)


@pytest.fixture
async def world(store: Store, clock: ManualClock) -> SandboxWorld:
    return await SandboxWorld.create(store.child("world"), ORG, clock)


@pytest.fixture
def stepup(store: Store, clock: ManualClock, world: SandboxWorld) -> StepUp:
    return StepUp(store, clock, world.directory, world.outbox)


async def person(world: SandboxWorld, username: str) -> Person:
    found = await world.directory.person(username)
    assert found is not None
    return found


async def newest_pending(world: SandboxWorld, username: str, kind: str) -> OutboxItem:
    """What the scenario runner answers: the newest pending push, or code, in the outbox."""
    items = [i for i in await world.outbox.items(username) if i.kind == kind]
    assert items, f"nothing of kind {kind} sent to {username}"
    assert items[-1].status == "pending"
    return items[-1]


async def item_status(world: SandboxWorld, item_id: str) -> str:
    item = await world.outbox.item(item_id)
    assert item is not None
    return item.status


async def wrong_code(world: SandboxWorld, username: str) -> str:
    return await wrong_code_for(await newest_pending(world, username, "code"))


async def wrong_code_for(item: OutboxItem) -> str:
    assert item.secret is not None
    return f"{(int(item.secret) + 1) % 1_000_000:06d}"


class RecordingOutbox:
    """The sandbox outbox, recording the status changes the desk asks of it (a real outbox,
    unlike the sandbox, does not work out expiry by itself)."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self.statuses: list[tuple[str, OutboxStatus]] = []

    async def deliver(self, item: OutboxItem) -> OutboxItem:
        return await self._outbox.deliver(item)

    async def items(self, username: str) -> list[OutboxItem]:
        return await self._outbox.items(username)

    async def item(self, item_id: str) -> OutboxItem | None:
        return await self._outbox.item(item_id)

    async def item_by_ref(self, ref: str) -> OutboxItem | None:
        return await self._outbox.item_by_ref(ref)

    async def set_status(self, item_id: str, status: OutboxStatus) -> None:
        self.statuses.append((item_id, status))
        await self._outbox.set_status(item_id, status)

    async def secrets(self) -> list[str]:
        return await self._outbox.secrets()


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
    bob = (await person(world, "bob")).model_copy(update={"factors": factors})

    challenge = await stepup.challenge(bob, "case-1")

    assert (challenge.factor, challenge.kind) == (chosen, kind)
    item = await newest_pending(world, "bob", kind)
    assert item.id == challenge.outbox_item
    assert item.channel == chosen
    assert item.address == challenge.address
    assert item.address == await world.directory.factor_address("bob", chosen)


async def test_no_usable_factor_raises_no_factor(world: SandboxWorld, stepup: StepUp) -> None:
    bob = await person(world, "bob")
    with pytest.raises(NoFactor):
        await stepup.challenge(bob.model_copy(update={"factors": ()}), "case-1")
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

    assert await item_status(world, first.outbox_item) == "expired"
    assert await item_status(world, other_case.outbox_item) == "pending"
    assert await stepup.pending("bob") == second


# --- pushes -------------------------------------------------------------------------------


async def test_an_approved_push_passes_once(world: SandboxWorld, stepup: StepUp) -> None:
    alice = await person(world, "alice")
    challenge = await stepup.challenge(alice, "case-1")
    push = await newest_pending(world, "alice", "push")
    assert push.ref
    assert push.secret is None
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=10)

    result = await stepup.answer_push(alice, push.ref, approve=True)

    assert result.outcome is CheckOutcome.PASSED
    assert result.case_id == "case-1"
    assert await item_status(world, push.id) == "approved"
    assert await stepup.pending("alice") is None
    again = await stepup.answer_push(alice, push.ref, approve=True)
    assert again.outcome is CheckOutcome.REPLAYED


async def test_a_denied_push_fails_and_a_new_challenge_passes(
    world: SandboxWorld, stepup: StepUp
) -> None:
    alice = await person(world, "alice")
    await stepup.challenge(alice, "case-1")
    denied = await newest_pending(world, "alice", "push")

    result = await stepup.answer_push(alice, denied.ref or "", approve=False)

    assert (result.outcome, result.failures_in_row) == (CheckOutcome.FAILED, 1)
    assert await item_status(world, denied.id) == "denied"
    assert await stepup.pending("alice") is None
    pressed_again = await stepup.answer_push(alice, denied.ref or "", approve=True)
    assert (pressed_again.outcome, pressed_again.failures_in_row) == (CheckOutcome.REPLAYED, 1)
    await stepup.challenge(alice, "case-1")
    retry = await newest_pending(world, "alice", "push")
    assert retry.ref != denied.ref
    passed = await stepup.answer_push(alice, retry.ref or "", approve=True)
    assert (passed.outcome, passed.failures_in_row) == (CheckOutcome.PASSED, 0)
    assert await stepup.failures("case-1") == 0


async def test_someone_elses_push_is_no_challenge_and_changes_nothing(
    world: SandboxWorld, stepup: StepUp
) -> None:
    alice, carol = await person(world, "alice"), await person(world, "carol")
    challenge = await stepup.challenge(alice, "case-1")
    push = await newest_pending(world, "alice", "push")

    for approve in (True, False):
        result = await stepup.answer_push(carol, push.ref or "", approve=approve)
        assert result.outcome is CheckOutcome.NO_CHALLENGE
        assert (result.case_id, result.challenge) == (None, None)
    unknown = await stepup.answer_push(alice, "not-a-ref", approve=True)

    assert unknown.outcome is CheckOutcome.NO_CHALLENGE
    assert await stepup.pending("alice") == challenge
    assert await item_status(world, push.id) == "pending"
    assert await stepup.failures("case-1") == 0


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
    assert await item_status(world, item.id) == "used"
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
            StepUp(Store(client, store.namespace), clock, world.directory, world.outbox)
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


async def test_a_push_approved_at_once_on_several_desks_passes_once(
    world: SandboxWorld, desks: list[StepUp]
) -> None:
    alice = await person(world, "alice")
    for case in range(5):
        await desks[0].challenge(alice, f"case-{case}")
        ref = (await newest_pending(world, "alice", "push")).ref or ""

        results = await asyncio.gather(*(desk.answer_push(alice, ref, True) for desk in desks))

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
    assert await item_status(world, challenge.outbox_item) == "expired"
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
        outcomes.append((await stepup.answer_push(alice, push.ref or "", False)).outcome)

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
    outbox = RecordingOutbox(world.outbox)
    stepup = StepUp(store, clock, world.directory, outbox)
    bob = await person(world, "bob")
    challenge = await stepup.challenge(bob, "case-1")
    item = await newest_pending(world, "bob", "code")

    clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
    assert await stepup.pending("bob") == challenge
    clock.advance(timedelta(seconds=1))
    assert await stepup.pending("bob") is None
    assert outbox.statuses == [(item.id, "expired")]
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
    result = await stepup.answer_push(alice, push.ref or "", approve=True)

    assert result.outcome is CheckOutcome.EXPIRED
    assert result.challenge is not None
    assert result.challenge.status == "expired"


async def test_a_cancelled_challenge_takes_no_answer(world: SandboxWorld, stepup: StepUp) -> None:
    bob = await person(world, "bob")
    await stepup.challenge(bob, "case-1")
    item = await newest_pending(world, "bob", "code")

    await stepup.cancel("case-1")

    assert await stepup.pending("bob") is None
    assert await item_status(world, item.id) == "expired"
    assert await stepup.answer_code(bob, item.secret or "") is None


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
    await stepup.challenge(alice.model_copy(update={"factors": ("sms",)}), "case-1")

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
