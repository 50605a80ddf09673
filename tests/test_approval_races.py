"""Every approval decision is audited, the ones that decide nothing included: the losing
click of an Approve/Deny race, a click on an expired approval, a click policy refuses. Of
two decisions at once the first wins, on real Redis, even with no conversation lock between
them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from harness import Conversation, conversation
from test_desk import pipeline_request

from bot import texts
from bot.approvals import ApprovalDeps, Approvals
from bot.cases import Case
from bot.context import CaseLog
from bot.events import ApprovalRequested, Approved, Denied
from bot.observability import Metrics
from bot.state.approvals import Approval, ApprovalRepository
from bot.state.conversations import ConversationLocks
from bot.state.refs import ButtonRefs
from bot.store import Store
from bot.systemturns import SystemTurnDeps, SystemTurns


@pytest.fixture
async def desk(store: Store) -> Conversation:
    return await conversation(store)


def _approvals(desk: Conversation) -> Approvals:
    """The desk's approval requests, as a second worker process would build them."""
    wired, store = desk.desk, desk.desk.store
    system = SystemTurns(SystemTurnDeps(CaseLog(wired.cases, Metrics()), wired.directory,
                                        ConversationLocks(store), None))  # fmt: skip
    return Approvals(ApprovalDeps(ApprovalRepository(store), ButtonRefs(store), wired.scheduler,
                                  wired.directory, system, wired.clock))  # fmt: skip


async def _approval(desk: Conversation, case: Case) -> Approval:
    requested = case.last(ApprovalRequested)
    assert requested is not None
    approval = await _approvals(desk).get(requested.approval)
    assert approval is not None
    return approval


async def _audited(desk: Conversation, kind: str) -> list[dict[str, Any]]:
    return [r.record async for r in desk.desk.audit.records() if r.record.get("type") == kind]


def _decisions(case: Case) -> list[tuple[str, str]]:
    return [(e.type, e.actor) for e in case.events if isinstance(e.event, Approved | Denied)]


async def test_two_decisions_at_once_one_wins_and_the_other_is_told(desk: Conversation) -> None:
    await pipeline_request(desk)
    approval = await _approval(desk, await desk.case("joanna"))
    approvals, now = _approvals(desk), desk.clock.now()
    (yes, said_yes), (no, said_no) = await asyncio.gather(
        approvals.decide(approval, "approved", "nina", now),
        approvals.decide(approval, "denied", "tom", now),
    )
    assert [said_yes, said_no].count(True) == 1
    winner = yes if said_yes else no
    stored = await approvals.get(approval.id)
    assert stored is not None
    assert (stored.status, stored.decided_by) == (winner.status, winner.decided_by)
    assert yes.status == no.status == winner.status  # the loser sees the winner's decision


@asynccontextmanager
async def _no_lock(self: ConversationLocks, conversation: str, **_: Any) -> AsyncIterator[None]:
    yield None


async def test_the_losing_click_of_an_approve_deny_race_is_audited(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    await pipeline_request(desk)
    approve, deny = desk.button("nina", "approve"), desk.button("nina", "deny")
    # Both clicks read the request while it is pending, with no conversation lock to queue
    # them: only the decision itself can keep one of them from counting.
    monkeypatch.setattr(ConversationLocks, "hold", _no_lock)
    read, both_read = 0, asyncio.Event()
    get = Approvals.get

    async def get_together(self: Approvals, approval_id: str) -> Approval | None:
        nonlocal read
        approval = await get(self, approval_id)
        read += 1
        if read == 2:
            both_read.set()
        await both_read.wait()
        return approval

    monkeypatch.setattr(Approvals, "get", get_together)
    said = await asyncio.gather(desk.click("nina", approve), desk.click("nina", deny))

    case = await desk.case("joanna")
    (decision,) = _decisions(case)
    assert decision[1] == "nina"
    (late,) = await _audited(desk, "approval.too_late")
    lost = "deny" if decision[0] == "approved" else "approve"
    assert late["by"] == "nina"
    assert late["decision"] == lost
    assert late["approval"] == (await _approval(desk, case)).id
    assert late["why"] == "already_decided"
    assert late["decided"] == decision[0]
    assert late["decided_by"] == "nina"
    assert late["at"] == desk.clock.now().isoformat()
    loser = said[1] if lost == "deny" else said[0]
    verdict = texts.already_decided(decision[0], "Nina Osei")
    assert desk.said(loser) == [verdict]
    executed = [s for s, _ in await desk.executed()]
    assert executed == (["add_to_group"] if decision[0] == "approved" else [])


async def test_approve_and_deny_pressed_together_are_queued_and_the_second_audited(
    desk: Conversation,
) -> None:
    await pipeline_request(desk)
    approve, deny = desk.button("nina", "approve"), desk.button("nina", "deny")
    await asyncio.gather(desk.click("nina", approve), desk.click("nina", deny))
    (decision,) = _decisions(await desk.case("joanna"))
    (late,) = await _audited(desk, "approval.too_late")
    assert (late["why"], late["decided"], late["decided_by"]) == (
        "already_decided", decision[0], "nina",
    )  # fmt: skip


async def test_a_deny_records_who_denied(desk: Conversation) -> None:
    await pipeline_request(desk)
    await desk.press("nina", "deny")
    case = await desk.case("joanna")
    assert _decisions(case) == [("denied", "nina")]
    approval = await _approval(desk, case)
    assert (approval.status, approval.decided_by) == ("denied", "nina")
    assert await _audited(desk, "approval.too_late") == []


async def test_a_click_on_an_expired_approval_is_audited(desk: Conversation) -> None:
    await pipeline_request(desk)
    approve = desk.button("nina", "approve")
    await desk.wait(hours=72)
    said = await desk.click("nina", approve)
    assert desk.said(said) == [texts.say("button.expired")]
    (late,) = await _audited(desk, "approval.too_late")
    assert (late["by"], late["decision"], late["why"]) == ("nina", "approve", "expired")
    assert late["about_case"] == (await desk.case("joanna")).id


async def test_a_refused_click_says_why_and_on_which_approval(desk: Conversation) -> None:
    await pipeline_request(desk)
    await desk.click("samir", desk.button("nina", "approve"))
    (refused,) = await _audited(desk, "click.refused")
    approval = await _approval(desk, await desk.case("joanna"))
    assert (refused["by"], refused["action"], refused["approval"]) == (
        "samir", "approve", approval.id,
    )  # fmt: skip
    assert refused["why"]
    assert refused["at"] == desk.clock.now().isoformat()
