"""Several check providers as one (ITDESK_CHECKS=okta_verify,duo,sms,email): each person is
reached by the first provider that has a factor of theirs, the others stand behind it, and
every answer goes back to the provider that issued the check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from harness import ORG

from adapters.checks.chain import CheckChain
from adapters.checks.sandbox import SandboxChecks
from bot.clock import ManualClock
from bot.ports import CheckRequest, NotFoundError, Unsupported
from bot.store import Store
from bot.world import SandboxWorld

assert ORG.now is not None
PUSH_ONLY = {"sms", "email", "totp"}
CODES_ONLY = {"push"}


async def two_providers(store: Store) -> tuple[SandboxWorld, SandboxChecks, SandboxChecks]:
    clock = ManualClock(ORG.now)
    world = await SandboxWorld.create(store.child("w"), ORG, clock)
    pushes = SandboxChecks(store.child("a"), clock, world.directory, world.outbox,
                           unsupported=PUSH_ONLY)  # fmt: skip
    codes = SandboxChecks(store.child("b"), clock, world.directory, world.outbox,
                          unsupported=CODES_ONLY)  # fmt: skip
    return world, pushes, codes


def request(key: str, factor: str, username: str = "zoe") -> CheckRequest:
    message = "Approve?" if factor == "push" else "Code: {code}"
    return CheckRequest.model_validate({
        "key": key, "username": username, "factor": factor, "message": message,
        "code": None if factor == "push" else "123456",
        "expires_at": ORG.now + timedelta(minutes=10),  # type: ignore[operator]
    })  # fmt: skip


async def test_reach_is_listed_provider_by_provider_in_order(store: Store) -> None:
    world, pushes, codes = await two_providers(store)
    first = await CheckChain([("duo", pushes), ("sms", codes)]).reachable("zoe")
    second = await CheckChain([("sms", codes), ("duo", pushes)]).reachable("zoe")

    zoe = await world.directory.person("zoe")
    assert zoe is not None
    assert {"push", "sms"} <= set(zoe.factors)
    assert first[0].factor == "push"
    assert second[-1].factor == "push"
    assert sorted(r.factor for r in first) == sorted(r.factor for r in second)


async def test_each_check_goes_to_and_comes_back_from_its_own_provider(store: Store) -> None:
    _, pushes, codes = await two_providers(store)
    chain = CheckChain([("duo", pushes), ("sms", codes)])

    push = await chain.issue(request("k1", "push"))
    code = await chain.issue(request("k2", "sms"))

    assert push.id.startswith("duo~")
    assert code.id.startswith("sms~")
    await pushes.answer(push.id.removeprefix("duo~"), approve=True)
    assert (await chain.result(push.id)).status == "approved"
    assert (await chain.result(code.id)).status == "pending"
    await chain.withdraw(code.id)
    assert (await codes.result(code.id.removeprefix("sms~"))).status == "withdrawn"
    assert await chain.issue(request("k1", "push")) == push  # the same key: the same check


async def test_a_factor_no_provider_reaches_and_a_foreign_id_are_refused(store: Store) -> None:
    world, pushes, _ = await two_providers(store)
    chain = CheckChain([("duo", pushes)])

    with pytest.raises(Unsupported) as caught:
        await chain.issue(request("k3", "sms"))
    assert caught.value.capability == "sms"
    for foreign in ("sms~chk-1", "chk-1", "duo~"):
        with pytest.raises(NotFoundError):
            await chain.result(foreign)
    assert await world.outbox.items("zoe") == []


def test_provider_names_must_be_distinct_and_plain() -> None:
    with pytest.raises(ValueError, match="at least one"):
        CheckChain([])
    with pytest.raises(ValueError, match="distinct and plain"):
        CheckChain([("a~b", object())])  # type: ignore[list-item]


class Down:
    async def reachable(self, username: str) -> tuple[()]:
        raise ConnectionError("provider down")


async def test_a_provider_that_cannot_be_asked_leaves_the_person_to_the_next(
    store: Store,
) -> None:
    _, _, codes = await two_providers(store)
    chain = CheckChain([("duo", Down()), ("sms", codes)])  # type: ignore[list-item]

    assert [r.factor for r in await chain.reachable("zoe")] == ["sms"]
    code = await chain.issue(request("k4", "sms"))
    assert code.id.startswith("sms~")


class Refusing:
    """A provider that lists a push for the person, then cannot send it."""

    def __init__(self, inner: SandboxChecks) -> None:
        self._inner = inner

    async def reachable(self, username: str) -> Any:
        return await self._inner.reachable(username)

    async def issue(self, request: CheckRequest) -> Any:
        raise Unsupported("push", "the push service is switched off")


async def test_a_provider_that_cannot_send_after_all_passes_the_check_to_the_next(
    store: Store,
) -> None:
    _, pushes, _ = await two_providers(store)
    chain = CheckChain([("okta_verify", Refusing(pushes)), ("duo", pushes)])  # type: ignore[list-item]

    push = await chain.issue(request("k5", "push"))
    assert push.id.startswith("duo~")
