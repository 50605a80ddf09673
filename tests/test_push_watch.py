"""A push from a provider that cannot tell the desk it was answered (Okta Verify, Duo) is
watched there: the desk reads the answer every few seconds and goes on with the case, with
no click from any front end. Approved -> the request proceeds; denied three times -> a human
takes it and security is told; without real check providers nothing is watched."""

from __future__ import annotations

from harness import Conversation, conversation

from bot import texts
from bot.cases import CaseStatus
from bot.settings import Settings
from bot.store import Store
from bot.verifying import WATCH_PUSH


async def watched(store: Store) -> Conversation:
    desk = await conversation(store, settings=Settings(_env_file=None, checks="email"))
    await desk.world.directory.set_locked("zoe", True)
    return desk


async def answer_on_phone(desk: Conversation, user: str, *, approve: bool) -> None:
    challenge = await desk.desk.stepup.pending(user)
    assert challenge is not None
    assert challenge.kind == "push"
    assert challenge.check_id
    await desk.world.checks.answer(challenge.check_id, approve=approve)


async def test_an_approved_push_is_read_at_the_provider_and_the_request_proceeds(
    store: Store,
) -> None:
    desk = await watched(store)
    await desk.say("zoe", "I'm locked out of my account")
    assert (await desk.case("zoe")).status == CaseStatus.VERIFYING
    await desk.wait(seconds=5)
    assert (await desk.case("zoe")).status == CaseStatus.VERIFYING  # nobody answered yet

    await answer_on_phone(desk, "zoe", approve=True)
    await desk.wait(seconds=3)

    zoe = await desk.world.directory.person("zoe")
    assert zoe is not None
    assert not zoe.locked
    assert texts.say("step_up.passed") in desk.dm_texts("zoe")
    assert not [j for j in await desk.desk.scheduler.pending() if j.kind == WATCH_PUSH]


async def test_three_denied_pushes_go_to_a_human_and_security_is_told(store: Store) -> None:
    desk = await watched(store)
    await desk.say("zoe", "I'm locked out of my account")
    for _ in range(3):
        await answer_on_phone(desk, "zoe", approve=False)
        await desk.wait(seconds=3)

    case = await desk.case("zoe")
    assert case.status == CaseStatus.ESCALATED
    assert texts.say("step_up.locked_out") in desk.dm_texts("zoe")
    security = [p.username for p in await desk.world.directory.people_with_role("security")]
    notice = texts.say("step_up.locked_out_notice")
    assert any(notice in t for who in security for t in desk.dm_texts(who))
    zoe = await desk.world.directory.person("zoe")
    assert zoe is not None
    assert zoe.locked
    assert not [j for j in await desk.desk.scheduler.pending() if j.kind == WATCH_PUSH]


async def test_a_push_answered_through_a_front_end_is_not_judged_twice(store: Store) -> None:
    desk = await watched(store)
    await desk.say("zoe", "I'm locked out of my account")
    said = await desk.verify("zoe")  # the phone's click reached the desk first
    await desk.wait(seconds=3)

    passed = texts.say("step_up.passed")
    assert passed in desk.said(said)
    assert desk.dm_texts("zoe").count(passed) == 1


async def test_without_real_check_providers_no_push_is_watched(store: Store) -> None:
    desk = await conversation(store)
    await desk.say("zoe", "I need the pipeline reports group for a dashboard")
    assert (await desk.case("zoe")).status == CaseStatus.VERIFYING
    assert not [j for j in await desk.desk.scheduler.pending() if j.kind == WATCH_PUSH]


async def test_pushes_left_unanswered_count_as_failed_and_end_with_a_human(
    store: Store,
) -> None:
    desk = await watched(store)
    await desk.say("zoe", "I'm locked out of my account")
    for _ in range(3):
        await desk.wait(minutes=11)  # the push times out on the phone, unanswered

    assert texts.say("step_up.expired") in desk.dm_texts("zoe")
    assert (await desk.case("zoe")).status == CaseStatus.ESCALATED
    assert texts.say("step_up.locked_out") in desk.dm_texts("zoe")
    assert not [j for j in await desk.desk.scheduler.pending() if j.kind == WATCH_PUSH]
