"""The desk end to end where a scenario file cannot say it: replayed and forged clicks, buttons
that expired or never existed, a saga that fails half-way, retries, every admin command's role
check and results, unknown people, duplicate deliveries, and the safety invariants (no secret
in chat, every action's provenance, an intact audit chain).

Every test drives `Desk.handle` with real turns over a sandbox world (the Initech org of the
desk's acceptance suite) on a real Redis; `desk.say("peter", "I'm locked out")` is one turn."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from harness import Conversation, conversation, lacking

from adapters.chat.recording import shown_text
from bot import texts
from bot.actions import Provenance
from bot.cases import CaseStatus
from bot.catalogue import CatalogueSource
from bot.cli import main
from bot.context import CaseLog, TurnContext
from bot.events import SagaCompensated
from bot.models import Button, Group, Person, Turn, TurnKind
from bot.planner import Planner, PlannerDeps
from bot.plans import PlanStep, Question
from bot.policy import PolicyRequest
from bot.ports import ClearsByItself
from bot.state.catalog import CatalogCache
from bot.store import Store
from bot.understanding import Understanding
from skills import default_skills
from skills.access import RemoveFromGroup


@pytest.fixture
async def desk(store: Store) -> Conversation:
    return await conversation(store)


async def pipeline_request(desk: Conversation, user: str = "joanna") -> None:
    """`user` asks for Pipeline Reports (owner nina) and passes the check: a card waits."""
    await desk.say(user, "could I get read access to pipeline reports? I'm helping with a forecast")
    await desk.verify(user)
    assert (await desk.case(user)).status == CaseStatus.AWAITING_APPROVAL


# --- approvals ---------------------------------------------------------------------------


async def test_the_same_approve_click_replayed_with_new_event_ids_acts_once(
    desk: Conversation,
) -> None:
    await pipeline_request(desk)
    approve = desk.button("nina", "approve")
    await desk.click("nina", approve)
    again = await desk.click("nina", approve)
    third = await desk.click("nina", approve)
    assert await desk.executed() == [
        ("add_to_group", {"user": "joanna", "group": "pipeline-reports", "days": 90})
    ]
    assert "already approved" in desk.said(again)[0]
    assert desk.said(third) == desk.said(again)
    assert (await desk.case("joanna")).status == CaseStatus.RESOLVED


async def test_approve_then_deny_on_the_same_card_keeps_the_first_decision(
    desk: Conversation,
) -> None:
    await pipeline_request(desk)
    deny = desk.button("nina", "deny")
    await desk.press("nina", "approve")
    said = await desk.click("nina", deny)
    assert "already approved by Nina Osei" in desk.said(said)[0]
    assert "pipeline-reports" in await desk.groups_of("joanna")


async def test_requester_cannot_approve_their_own_request(desk: Conversation) -> None:
    # Nina owns Pipeline Reports: her own request goes up to her manager, Victor
    await desk.say("nina", "please add me to the pipeline reports group")
    await desk.verify("nina")
    card = desk.card_with("victor", "approve")
    approve = desk.button("victor", "approve")
    said = await desk.click("nina", approve)
    assert desk.said(said) == [texts.say("approval.no_self_approval")]
    assert await desk.executed() == []
    assert (await desk.case("nina")).status == CaseStatus.AWAITING_APPROVAL
    assert card.card is not None
    assert card.card.about == "nina"
    await desk.click("victor", approve)
    assert [s for s, _ in await desk.executed()] == ["add_to_group"]


async def test_security_approval_for_a_security_person_goes_to_their_manager(
    desk: Conversation,
) -> None:
    # Omar is the only person with the security role: he may not approve his own tool
    await desk.say("omar", "can you install burp suite on NB-4111 for the pen test training")
    assert not [m for m in desk.chat.dm("omar") if m.card and m.card.kind == "approval"]
    await desk.press("tom", "approve")
    assert await desk.executed() == [
        ("install_software", {"software": "burp-suite", "device": "NB-4111", "user": "omar"})
    ]


async def test_a_forwarded_approval_click_by_someone_else_changes_nothing(
    desk: Conversation,
) -> None:
    await pipeline_request(desk)
    said = await desk.click("samir", desk.button("nina", "approve"))
    assert desk.said(said) == [texts.say("button.not_yours")]
    assert await desk.executed() == []
    assert (await desk.case("joanna")).status == CaseStatus.AWAITING_APPROVAL
    refused = [r.record async for r in desk.desk.audit.records()][-1]
    assert (refused["type"], refused["by"], refused["action"]) == (
        "click.refused",
        "samir",
        "approve",
    )


@pytest.mark.parametrize("ref", ["", "nope", "x" * 65, "../../etc/passwd", "🙂"])
async def test_a_click_with_an_unknown_ref_says_so_and_changes_nothing(
    desk: Conversation, ref: str
) -> None:
    await pipeline_request(desk)
    before = [r async for r in desk.desk.audit.records()]
    said = await desk.click("nina", Button(label="Approve", action="approve", ref=ref))
    assert desk.said(said) == [texts.say("button.unknown")]
    assert [r async for r in desk.desk.audit.records()] == before


async def test_a_real_ref_under_another_action_is_refused(desk: Conversation) -> None:
    await pipeline_request(desk)
    deny = desk.button("nina", "deny")
    said = await desk.click("nina", Button(label="Approve", action="approve", ref=deny.ref))
    assert desk.said(said) == [texts.say("button.unknown")]
    assert (await desk.case("joanna")).status == CaseStatus.AWAITING_APPROVAL


async def test_an_approval_that_expired_cannot_be_approved(desk: Conversation) -> None:
    await pipeline_request(desk)
    approve = desk.button("nina", "approve")
    await desk.wait(hours=72)
    case = await desk.case("joanna")
    assert case.status == CaseStatus.CANCELLED
    assert any("wasn't approved within 3 days" in t for t in desk.dm_texts("joanna"))
    card = next(m.card for m in desk.chat.dm("nina") if m.card and m.card.kind == "approval")
    assert (card.buttons, card.context) == ((), "Expired")  # updated in place, no buttons
    said = await desk.click("nina", approve)
    assert desk.said(said) == [texts.say("button.expired")]
    assert await desk.executed() == []


async def test_an_expired_card_is_refused_even_when_its_expiry_job_has_not_run(
    desk: Conversation,
) -> None:
    await pipeline_request(desk)
    approve = desk.button("nina", "approve")
    desk.clock.advance(timedelta(hours=73))  # the worker is down: nothing ran
    said = await desk.click("nina", approve)
    assert desk.said(said) == [texts.say("button.expired")]
    assert await desk.executed() == []


async def test_the_reminder_reaches_the_approver_after_a_day_and_only_then(
    desk: Conversation,
) -> None:
    await pipeline_request(desk)
    reminder = texts.say("approval.reminder", requester="Joanna Brandt")
    await desk.wait(hours=23)
    assert reminder not in desk.dm_texts("nina")
    await desk.wait(hours=2)
    assert desk.dm_texts("nina").count(reminder) == 1
    assert (await desk.case("joanna")).status == CaseStatus.AWAITING_APPROVAL


async def test_a_decided_approval_sends_no_reminder_and_never_expires(desk: Conversation) -> None:
    await pipeline_request(desk)
    await desk.press("nina", "approve")
    await desk.wait(days=4)
    assert texts.say("approval.reminder", requester="Joanna Brandt") not in desk.dm_texts("nina")
    assert (await desk.case("joanna")).status == CaseStatus.RESOLVED


async def test_an_undo_button_expires_after_a_day(desk: Conversation) -> None:
    await desk.say("samir", "I don't need pipeline reports anymore, please remove me")
    undo = desk.button("samir", "undo")
    await desk.wait(hours=25)
    said = await desk.click("samir", undo)
    assert desk.said(said) == [texts.say("button.expired")]
    assert "pipeline-reports" not in await desk.groups_of("samir")


async def test_undo_pressed_twice_undoes_once(desk: Conversation) -> None:
    await desk.say("mateo", "get me Notion please")
    undo = desk.button("mateo", "undo")
    await desk.click("mateo", undo)
    said = await desk.click("mateo", undo)
    assert desk.said(said) == [texts.say("button.used")]
    assert [s for s, _ in await desk.executed()] == ["install_software", "uninstall_software"]


async def test_a_time_bound_grant_warns_a_day_ahead_then_ends(desk: Conversation) -> None:
    await desk.say("zoe", "I need the pipeline reports group for 2 weeks while I build a dashboard")
    await desk.verify("zoe")
    await desk.press("nina", "approve")
    assert "pipeline-reports" in await desk.groups_of("zoe")
    await desk.wait(days=12, hours=23)
    assert not [t for t in desk.dm_texts("zoe") if t.startswith("Heads-up")]
    await desk.wait(hours=2)
    assert [t for t in desk.dm_texts("zoe") if t.startswith("Heads-up")]
    assert "pipeline-reports" in await desk.groups_of("zoe")
    await desk.wait(days=1)
    assert "pipeline-reports" not in await desk.groups_of("zoe")
    assert texts.say("access.ended", group="Pipeline Reports") in desk.dm_texts("zoe")
    removal = (await desk.actions())[-1]
    assert removal["skill"] == "remove_from_group"
    assert removal["approved_by"] == ["nina"]
    assert "access.time-bound" in removal["policy"]


async def test_undo_while_paused_goes_to_a_human_instead_of_a_dead_button(
    desk: Conversation,
) -> None:
    await desk.say("samir", "I don't need pipeline reports anymore, please remove me")
    await desk.command("tom", "/itdesk pause")
    await desk.press("samir", "undo")
    case = await desk.case("samir")
    assert case.status == CaseStatus.ESCALATED
    assert [s for s, _ in await desk.executed()] == ["remove_from_group"]
    assert "pipeline-reports" not in await desk.groups_of("samir")
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert ticket.summary.startswith("Undo requested: remove from group pipeline-reports")


async def test_didnt_help_on_a_status_card_reopens_the_case_to_a_human(
    desk: Conversation,
) -> None:
    await desk.say("peter", "my account got locked after too many wrong passwords")
    await desk.verify("peter")
    await desk.press("peter", "not-helpful")
    case = await desk.case("peter")
    assert case.status == CaseStatus.ESCALATED
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert ticket.queue == "accounts"
    assert [s for s, _ in await desk.executed()] == ["unlock_account"]


async def test_undo_skips_step_up_and_approval_but_not_what_always_needs_a_human(
    desk: Conversation,
) -> None:
    engine = desk.desk.policy
    samir = await desk.world.directory.person("samir")
    victor = await desk.world.directory.person("victor")
    reports = await desk.world.directory.group("pipeline-reports")
    hr_records = await desk.world.directory.group("hr-records")
    assert samir is not None
    assert victor is not None
    assert reports is not None
    assert hr_records is not None

    def ask(who: Person, group: Group, **context: Any) -> str:
        return engine.decide(
            PolicyRequest(who, "add_to_group", group, who, "access_request", "access", **context)
        ).route

    assert ask(samir, reports) == "step_up"
    assert ask(samir, reports, undo=True) == "act"
    assert ask(samir, reports, undo=True, mode="shadow") == "act"
    assert ask(samir, hr_records, undo=True) == "escalate"  # sensitive: never by the desk
    assert ask(victor, reports, undo=True) == "escalate"  # privileged
    assert ask(samir, reports, undo=True, paused=True) == "escalate"


# --- clarifying questions ----------------------------------------------------------------


async def test_which_device_answered_by_clicking_its_button(desk: Conversation) -> None:
    await desk.say("samir", "please install postman")
    choice = next(m for m in reversed(desk.chat.dm("samir")) if m.card and m.card.kind == "choice")
    assert choice.card is not None
    tower = next(b for b in choice.card.buttons if b.label == "TW-4105")
    await desk.click("samir", tower)
    again = await desk.click("samir", tower)
    assert desk.said(again) == [texts.say("button.used")]
    notebook = next(b for b in choice.card.buttons if b.label == "NB-4104")
    late = await desk.click("samir", notebook)  # the other option, after the question closed
    assert desk.said(late) == [texts.say("button.used")]
    assert await desk.executed() == [
        ("install_software", {"software": "postman", "device": "TW-4105", "user": "samir"})
    ]


async def test_a_choice_button_is_only_for_the_person_asked(desk: Conversation) -> None:
    await desk.say("samir", "please install postman")
    choice = next(m for m in reversed(desk.chat.dm("samir")) if m.card and m.card.kind == "choice")
    assert choice.card is not None
    said = await desk.click("zoe", choice.card.buttons[0])
    assert desk.said(said) == [texts.say("button.not_yours")]
    assert await desk.executed() == []


async def test_a_typed_answer_is_matched_to_the_option_it_names_not_guessed(
    desk: Conversation,
) -> None:
    await desk.say("samir", "please give me edit rights on the engineering wiki")
    said = await desk.say("samir", "not sure, whichever you think")
    assert desk.said(said) == [texts.say("ask.choice_unclear")]
    # "Engineering" is also an option, and a word of this answer: the answer names the wiki
    await desk.say("samir", "Engineering Wiki Editors please")
    case = await desk.case("samir")
    assert case.status == CaseStatus.VERIFYING
    assert case.slots["group"] == "eng-wiki"


async def test_an_answer_the_desk_cannot_use_goes_to_the_requests_own_queue(
    desk: Conversation,
) -> None:
    await desk.say("rita", "we have a leaver to offboard this week")
    await desk.say("rita", "rita")  # herself: not someone the desk offboards
    case = await desk.case("rita")
    assert case.status == CaseStatus.ESCALATED
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert ticket.queue == "accounts"
    assert await desk.executed() == []


async def test_an_unclear_first_message_offers_a_menu_whose_buttons_start_a_request(
    desk: Conversation,
) -> None:
    said = await desk.say("peter", "it's doing the thing again")
    assert desk.said(said) == [texts.say("menu.intro")]
    assert await desk.desk.cases.all_ids() == []
    menu = said[0].reply.card
    assert menu is not None
    locked = next(b for b in menu.buttons if b.label == "I'm locked out")
    await desk.click("peter", locked)
    assert (await desk.case("peter")).status == CaseStatus.VERIFYING
    await desk.verify("peter")
    assert await desk.executed() == [("unlock_account", {"user": "peter"})]
    assert desk.said(await desk.click("peter", locked)) == [texts.say("button.used")]


# --- sagas and retries -------------------------------------------------------------------


async def offboard_samir(desk: Conversation) -> None:
    await desk.say("rita", "Samir Haddad leaves us on Friday, please offboard him")
    await desk.verify("rita")
    await desk.press("nina", "approve")


async def test_a_saga_whose_second_step_fails_undoes_the_first_and_escalates(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def directory_down(username: str) -> int:
        raise RuntimeError("identity provider refused the call")

    monkeypatch.setattr(desk.world.directory, "revoke_sessions", directory_down)
    await offboard_samir(desk)
    assert await desk.executed() == [
        ("disable_account", {"user": "samir"}),
        ("enable_account", {"user": "samir"}),
    ]
    samir = await desk.world.directory.person("samir")
    assert samir is not None
    assert not samir.disabled
    case = await desk.case("rita")
    assert case.status == CaseStatus.ESCALATED
    compensated = case.last(SagaCompensated)
    assert compensated is not None
    assert compensated.failed_step == "revoke_sessions"
    assert compensated.undone == ["disable_account"]
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert (ticket.queue, ticket.priority) == ("accounts", "high")
    assert "undid disable_account" in ticket.details
    assert texts.say("result.action_failed") in desk.dm_texts("rita")
    assert all("refused the call" not in t for t in desk.dm_texts("rita"))  # no internals
    undone = (await desk.actions())[-1]
    assert undone["undo_of"] == (await desk.actions())[0]["action_id"]
    assert undone["approved_by"] == ["nina"]
    assert undone["verification"] is not None


async def test_a_saga_whose_compensation_also_fails_still_escalates_with_what_is_left(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = desk.world.directory.set_disabled

    async def one_way(username: str, disabled: bool) -> None:
        if not disabled:
            raise PermissionError("directory is read-only")
        await real(username, disabled)

    async def directory_down(username: str) -> int:
        raise RuntimeError("identity provider refused the call")

    monkeypatch.setattr(desk.world.directory, "set_disabled", one_way)
    monkeypatch.setattr(desk.world.directory, "revoke_sessions", directory_down)
    await offboard_samir(desk)
    case = await desk.case("rita")
    assert case.status == CaseStatus.ESCALATED
    assert [s for s, _ in await desk.executed()] == ["disable_account"]
    compensated = case.last(SagaCompensated)
    assert compensated is not None
    assert (compensated.undone, compensated.left) == ([], ["disable_account"])
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert "still in effect, check by hand: disable_account" in ticket.details
    assert texts.say("try_again") not in desk.dm_texts("rita")


async def test_a_saga_that_fails_on_its_first_step_undoes_nothing(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(username: str, disabled: bool) -> None:
        raise PermissionError("directory is read-only")

    monkeypatch.setattr(desk.world.directory, "set_disabled", refuse)
    await offboard_samir(desk)
    assert await desk.executed() == []
    assert (await desk.case("rita")).status == CaseStatus.ESCALATED


async def test_a_retried_removal_after_a_partial_failure_does_not_act_twice(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end of a time-bound grant: the removal lands but its read-back fails once; it
    is read again, finds the work done and records one removal, which changed the group."""
    await pipeline_request(desk, "zoe")
    await desk.press("nina", "approve")
    calls: list[str] = []
    real_remove = desk.world.directory.remove_member
    real_verify = RemoveFromGroup.verify

    async def remove_member(username: str, group_id: str) -> None:
        calls.append(group_id)
        await real_remove(username, group_id)

    failed: list[bool] = []

    async def flaky_verify(self: RemoveFromGroup, ctx: Any, params: Any) -> bool:
        if calls and not failed:
            failed.append(True)
            raise ConnectionError("read-after-write timed out")
        return await real_verify(self, ctx, params)

    monkeypatch.setattr(desk.world.directory, "remove_member", remove_member)
    monkeypatch.setattr(RemoveFromGroup, "verify", flaky_verify)
    await desk.wait(days=91)
    assert failed  # the first run did fail after writing
    assert calls == ["pipeline-reports"]  # written once, although the job ran twice
    removals = [a for a in await desk.actions() if a["skill"] == "remove_from_group"]
    assert len(removals) == 1
    assert removals[0]["changed"] is True
    assert "pipeline-reports" not in await desk.groups_of("zoe")
    assert await desk.desk.scheduler.dead_letters() == []


async def test_a_step_run_again_under_its_key_returns_the_first_run_and_does_nothing(
    desk: Conversation,
) -> None:
    await desk.say("peter", "my account got locked after too many wrong passwords")
    await desk.verify("peter")
    case = await desk.case("peter")
    first = (await desk.actions())[0]
    await desk.world.directory.set_locked("peter", True)  # locked again since, by the directory
    peter = await desk.world.directory.person("peter")
    assert peter is not None
    why = Provenance(requested_by="peter", approved_by=(), policy=("test",), verification=None)
    step = PlanStep(skill="unlock_account", params={"user": "peter"})
    log = CaseLog(desk.desk.cases, desk.desk.metrics)
    ctx = TurnContext(turn=desk.turn("peter"), person=peter, log=log)
    _, again = await desk.desk.actions.run(ctx, case, step, why, key=first["idempotency_key"])
    assert again.action_id == first["action_id"]
    assert len(await desk.actions()) == 1
    still = await desk.world.directory.person("peter")
    assert still is not None
    assert still.locked  # the rerun acted on nothing


async def test_an_already_held_membership_is_not_taken_away_when_a_grant_ends(
    desk: Conversation,
) -> None:
    """Samir is a permanent member; asking again grants nothing, so nothing is removed."""
    await pipeline_request(desk, "samir")
    await desk.press("nina", "approve")
    await desk.wait(days=91)
    assert "pipeline-reports" in await desk.groups_of("samir")
    assert [s for s, _ in await desk.executed()] == ["add_to_group"]


# --- admin commands ----------------------------------------------------------------------

ADMIN_COMMANDS = [
    "/itdesk pause",
    "/itdesk resume",
    "/itdesk mode accounts off",
    "/itdesk mode software shadow",
    "/itdesk stats",
    "/itdesk audit peter",
    "/itdesk undo A-00000000",
    "/itdesk oncall samir",
    "/itdesk oncall",
    "/itdesk help",
    "/itdesk",
    "/itdesk frobnicate",
]


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
@pytest.mark.parametrize("who", ["samir", "lucy", "omar", "rita", "victor"])
async def test_only_admins_may_run_any_itdesk_command(
    desk: Conversation, command: str, who: str
) -> None:
    await desk.say("samir", "I don't need pipeline reports anymore, please remove me")
    before = await desk.world.snapshot()
    said = await desk.command(who, command)
    assert [(e.kind, e.reply.text) for e in said] == [("ephemeral", texts.say("admin.only_admins"))]
    assert await desk.world.snapshot() == before
    assert not await desk.desk.control.paused()
    assert await desk.desk.control.modes() == {}
    assert await desk.desk.control.roster() is None
    assert [s for s, _ in await desk.executed()] == ["remove_from_group"]
    refused = [r.record async for r in desk.desk.audit.records()]
    assert refused[-1]["type"] == "admin.refused"
    assert refused[-1]["by"] == who


@pytest.mark.parametrize("command", [c for c in ADMIN_COMMANDS if c != "/itdesk undo A-00000000"])
async def test_an_admin_may_run_every_itdesk_command(desk: Conversation, command: str) -> None:
    said = await desk.command("tom", command)
    assert said
    assert texts.say("admin.only_admins") not in desk.said(said)
    assert all(t != texts.say("try_again") for t in desk.said(said))


async def test_pause_and_resume(desk: Conversation) -> None:
    await desk.command("tom", "/itdesk pause")
    await desk.say("peter", "I'm locked out")
    assert (await desk.case("peter")).status == CaseStatus.ESCALATED
    await desk.command("tom", "/itdesk resume")
    await desk.say("joanna", "could you put Notion on my laptop?")
    assert (await desk.case("joanna")).status == CaseStatus.RESOLVED


async def test_a_new_request_is_not_trapped_in_an_unclaimed_escalation(desk: Conversation) -> None:
    await desk.say("joanna", "my monitor flickers and then goes black")
    escalated = await desk.case("joanna")
    said = await desk.say("joanna", "it also flickers when I move the cable")
    assert any(escalated.ticket_id or "?" in t for t in desk.said(said))
    thread = desk.chat.thread(escalated.id)
    assert any("move the cable" in m.latest.text for m in thread)
    await desk.say("joanna", "could you put Notion on my laptop?")
    assert (await desk.case("joanna")).status == CaseStatus.RESOLVED
    assert (await desk.desk.cases.get(escalated.id)).status == CaseStatus.ESCALATED  # type: ignore[union-attr]


async def test_stats_count_cases_outcomes_escalations_and_approvals(desk: Conversation) -> None:
    await desk.say("peter", "my account got locked after too many wrong passwords")
    await desk.verify("peter")  # resolved by the desk alone
    await desk.say("zoe", "AnyConnect won't connect from the hotel")
    await desk.press("zoe", "helpful")  # answered by a runbook
    await desk.say("omar", "my monitor flickers and then goes black")  # escalated, hardware
    await pipeline_request(desk)  # waiting for nina
    await desk.say("nina", "what time does the cafeteria close today?")  # no case at all
    await desk.wait(minutes=5)
    said = await desk.command("tom", "/itdesk stats")
    card = said[0].reply.card
    assert card is not None
    fields = {f.label: f.value for f in card.fields}
    assert fields["Requests"] == "4"
    assert fields["Automation rate"] == "67%"  # 2 of the 3 finished without a human
    assert fields["Escalations by queue"] == "hardware: 1"
    assert fields["Approvals pending"] == "1"
    assert fields["Feedback"] == "1 helped, 0 didn't"
    assert fields["Paused"] == "no"
    assert fields["Median time to resolution"] != "n/a"


async def test_audit_lists_a_persons_actions_and_undo_reverses_one(desk: Conversation) -> None:
    await desk.say("samir", "I don't need pipeline reports anymore, please remove me")
    action = (await desk.actions())[0]
    said = await desk.command("tom", "/itdesk audit samir")
    assert action["action_id"] in said[0].reply.text
    assert "remove_from_group" in said[0].reply.text
    said = await desk.command("tom", f"/itdesk undo {action['action_id'].lower()}")
    assert said[0].reply.text.startswith("Undone: remove_from_group")
    assert "pipeline-reports" in await desk.groups_of("samir")
    undone = (await desk.actions())[-1]
    assert (undone["skill"], undone["requested_by"], undone["policy"], undone["undo_of"]) == (
        "add_to_group",
        "tom",
        ["admin.undo"],
        action["action_id"],
    )
    again = await desk.command("tom", f"/itdesk undo {action['action_id']}")
    assert again
    assert len(await desk.actions()) == 2
    said = await desk.command("tom", "/itdesk undo A-DEADBEEF")
    assert "Nothing was changed" in said[0].reply.text


async def test_audit_shows_what_was_done_to_an_account_at_someone_elses_request(
    desk: Conversation,
) -> None:
    await offboard_samir(desk)
    said = await desk.command("tom", "/itdesk audit samir")
    text = said[0].reply.text
    assert "disable_account" in text
    assert "revoke_sessions" in text
    assert "asked by rita" in text


async def test_oncall_roster_decides_who_approves_shadow_mode(desk: Conversation) -> None:
    await desk.command("tom", "/itdesk mode software shadow")
    said = await desk.command("tom", "/itdesk oncall omar")
    assert desk.said(said) == ["On call now: omar"]
    await desk.say("joanna", "could you put Notion on my laptop?")
    assert not [m for m in desk.chat.dm("lucy") if m.card and m.card.kind == "approval"]
    approve = desk.button("omar", "approve")
    refused = await desk.click("lucy", approve)
    assert desk.said(refused) == [texts.say("button.not_yours")]
    assert await desk.executed() == []
    await desk.click("omar", approve)
    assert [s for s, _ in await desk.executed()] == ["install_software"]
    said = await desk.command("tom", "/itdesk oncall milton")
    assert "Nothing was changed" in said[0].reply.text
    said = await desk.command("tom", "/itdesk oncall nobody-here")
    assert "Nothing was changed" in said[0].reply.text
    assert await desk.desk.control.roster() == ["omar"]


async def test_someone_put_on_call_may_claim_escalations(desk: Conversation) -> None:
    await desk.command("tom", "/itdesk oncall omar")
    await desk.say("joanna", "my monitor flickers and then goes black")
    claim = next(
        b
        for m in desk.chat.messages()
        if m.card and m.card.kind == "escalation"
        for b in m.card.buttons
        if b.action == "claim"
    )
    refused = await desk.click("samir", claim)
    assert desk.said(refused) == [texts.say("button.not_yours")]
    await desk.click("omar", claim)
    assert (await desk.case("joanna")).claimed_by == "omar"


# --- identity, delivery, invariants ------------------------------------------------------


async def test_an_unknown_person_gets_a_polite_refusal(desk: Conversation) -> None:
    said = await desk.say("mallory", "I'm locked out, please reset everything")
    assert desk.said(said) == [texts.say("unknown_person")]
    slack = Turn(
        platform="slack",
        event_id="Ev1",
        user_id="U123",
        user_email="stranger@elsewhere.test",
        conversation_id="D1",
        text="reset victor's password",
    )
    assert desk.said(await desk.send(slack)) == [texts.say("unknown_person")]
    assert await desk.desk.cases.all_ids() == []


async def test_a_person_found_by_email_on_another_platform_is_served(desk: Conversation) -> None:
    teams = Turn(
        platform="teams",
        event_id="a1",
        user_id="29:abc",
        user_email="Peter@Initech.test",
        conversation_id="teams:peter",
        text="I'm locked out",
    )
    await desk.send(teams)
    assert (await desk.case("peter")).status == CaseStatus.VERIFYING


@pytest.mark.parametrize("kind", ["message", "click", "command"])
async def test_a_duplicate_event_id_gets_no_second_reply(desk: Conversation, kind: str) -> None:
    if kind == "message":
        turn = desk.turn("peter", text="I'm locked out")
    elif kind == "command":
        turn = desk.turn("tom", TurnKind.COMMAND, text="/itdesk pause")
    else:
        await pipeline_request(desk)
        button = desk.button("nina", "approve")
        turn = desk.turn("nina", TurnKind.CLICK, action="approve", ref=button.ref)
    first = await desk.send(turn)
    records = [r async for r in desk.desk.audit.records()]
    second = await desk.send(turn)
    assert first
    assert second == []
    assert [r async for r in desk.desk.audit.records()] == records


async def test_a_failing_notice_after_the_action_does_not_leave_the_case_executing(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def mail_down(item: Any) -> Any:
        if item.kind == "notification":
            raise ConnectionError("mail relay down")
        return await real(item)

    real = desk.world.outbox.deliver
    monkeypatch.setattr(desk.world.outbox, "deliver", mail_down)
    await desk.say("zoe", "forgot my password, can you send me a reset?")
    await desk.verify("zoe")
    assert [s for s, _ in await desk.executed()] == ["reset_password"]
    assert (await desk.case("zoe")).status == CaseStatus.RESOLVED


async def test_no_chat_message_ever_shows_a_minted_secret(desk: Conversation) -> None:
    await desk.say("peter", "my account got locked after too many wrong passwords")
    await desk.verify("peter", passes=False)
    await desk.verify("peter")
    await desk.say("zoe", "forgot my password, can you send me a reset?")
    await desk.verify("zoe")
    await desk.say("joanna", "I wiped my phone and lost the authenticator app")
    await desk.press("nina", "approve")
    secrets = [s for s in await desk.world.outbox.secrets() if len(s) >= 4]
    assert len(secrets) >= 3  # a code, a reset link and an enrolment link were minted
    shown = "\n".join(t for d in desk.chat.deliveries for t in shown_text(d.effect.reply))
    assert not [s for s in secrets if s in shown]


async def test_every_executed_action_records_its_provenance(desk: Conversation) -> None:
    await desk.say("peter", "my account got locked after too many wrong passwords")
    await desk.verify("peter")
    await desk.say("mateo", "get me Notion please")
    await desk.press("mateo", "undo")
    await offboard_samir(desk)
    await desk.say("joanna", "I entered my password on a fake login page from an email")
    actions = await desk.actions()
    assert [a["skill"] for a in actions] == [
        "unlock_account",
        "install_software",
        "uninstall_software",
        "disable_account",
        "revoke_sessions",
        "revoke_sessions",
    ]
    for action in actions:
        assert {"requested_by", "approved_by", "policy", "verification"} <= action.keys()
        assert action["requested_by"]
        assert action["policy"]
        assert all(isinstance(p, str) for p in action["policy"])
    by_skill = {a["skill"]: a for a in actions}
    assert by_skill["unlock_account"]["verification"]["factor"] == "sms"
    assert by_skill["disable_account"]["approved_by"] == ["nina"]
    assert by_skill["disable_account"]["requested_by"] == "rita"
    assert by_skill["install_software"]["verification"] is None


async def test_the_audit_chain_verifies_with_the_cli_after_a_busy_day(
    desk: Conversation, redis_url: str
) -> None:
    await offboard_samir(desk)
    await pipeline_request(desk)
    await desk.press("nina", "deny")
    await desk.say("victor", "I can't get into my account, it says it is locked")
    await desk.command("tom", "/itdesk stats")
    await desk.wait(days=2)
    assert (await desk.desk.audit.verify()).ok
    result = await verify_audit_with_cli(redis_url, desk.desk.store.namespace)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("audit chain intact")


async def test_a_tampered_audit_chain_fails_the_cli(desk: Conversation, redis_url: str) -> None:
    await desk.say("mateo", "get me Notion please")
    store = desk.desk.store
    assert (await verify_audit_with_cli(redis_url, store.namespace)).exit_code == 0
    rows = await store.redis.xrange(store.key("audit"))
    await store.redis.xdel(store.key("audit"), rows[len(rows) // 2][0])  # a record goes missing
    result = await verify_audit_with_cli(redis_url, store.namespace)
    assert result.exit_code == 1
    assert "audit chain broken" in result.output


async def verify_audit_with_cli(redis_url: str, namespace: str) -> Result:
    """`itdesk audit verify` as an operator runs it (its own event loop, so in a thread)."""
    env = {"ITDESK_REDIS_URL": redis_url, "ITDESK_NAMESPACE": namespace}
    return await asyncio.to_thread(CliRunner().invoke, main, ["audit", "verify"], env=env)


# --- caution where the desk is unsure or the request does not fit -------------------------


class _Unsure:
    """An understanding that is not sure what it read (below any threshold)."""

    def __init__(self, intent: str, confidence: float) -> None:
        self.intent, self.confidence = intent, confidence

    async def understand(self, text: str, *, requester: Person) -> Understanding:
        return Understanding(
            intent=self.intent,  # type: ignore[arg-type]
            confidence=self.confidence,
            queue="security" if self.intent == "security_incident" else "other",
            confident=False,
        )


async def test_a_possible_incident_goes_to_security_at_once_not_to_the_menu(
    store: Store,
) -> None:
    desk = await conversation(store, _Unsure("security_incident", 0.4))
    said = await desk.say("zoe", "a weird window appeared and now my files have odd names")
    assert texts.say("menu.intro") not in desk.said(said)
    case = await desk.case("zoe")
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert (ticket.queue, ticket.priority) == ("security", "urgent")
    assert desk.dm_texts("omar")  # the security role heard of it
    assert await desk.executed() == []


async def test_an_unsure_guess_of_anything_else_still_gets_the_menu(store: Store) -> None:
    desk = await conversation(store, _Unsure("hardware_issue", 0.4))
    said = await desk.say("zoe", "it is doing that thing again")
    assert desk.said(said) == [texts.say("menu.intro")]
    assert await desk.desk.cases.all_ids() == []


async def test_someone_who_manages_nobody_cannot_onboard(desk: Conversation) -> None:
    await desk.say("zoe", "please set up an account for Dana Smith, she starts on monday")
    assert (await desk.case("zoe")).status == CaseStatus.REFUSED
    assert await desk.executed() == []


async def test_a_lost_phone_never_locks_the_only_laptop(desk: Conversation) -> None:
    await desk.say("peter", "I lost my work phone on the train")
    case = await desk.case("peter")
    assert case.status == CaseStatus.ESCALATED
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert (ticket.queue, ticket.priority) == ("security", "urgent")
    assert await desk.executed() == []
    device = await desk.world.devices.device("NB-4103")
    assert device is not None
    assert not device.locked


async def test_turns_look_people_and_software_up_without_reading_everything(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[str] = []

    def full_scan(what: str) -> Callable[[], Awaitable[list[Any]]]:
        async def scan() -> list[Any]:
            scans.append(what)  # recorded: the desk turns the error into "try again"
            raise AssertionError(f"a turn read every {what}")

        return scan

    await desk.desk.warm_up()  # start-up reads the names once, for the understanding
    for port, method in (("directory", "people"), ("directory", "groups"),
                         ("devices", "devices"), ("devices", "catalogue")):  # fmt: skip
        monkeypatch.setattr(getattr(desk.world, port), method, full_scan(f"{port}.{method}"))
    # an install on "my laptop": the person's devices by owner, the item by id
    await desk.say("peter", "install postman")
    assert scans == []
    # security approval (by role), up to the manager; a lost laptop tells security (by role)
    await desk.say("omar", "can you install burp suite on NB-4111 for the pen test training")
    await desk.press("tom", "approve")
    await desk.say("joanna", "I left my laptop on the train")
    assert scans == []
    # shadow mode: the on-call people approve (by role)
    await desk.command("tom", "/itdesk mode software shadow")
    await desk.say("zoe", "could you put Notion on my laptop?")
    await desk.press("lucy", "approve")
    # a new joiner: names read from the cached catalogue, the username checked one by one
    await desk.say("rita", "New starter Dana Whitfield begins on Monday, reporting to Nina.")
    await desk.verify("rita")
    await desk.press("nina", "approve")
    assert [s for s, _ in await desk.executed()] == [
        "install_software", "install_software", "lock_device", "install_software",
        "create_account",
    ]  # fmt: skip
    assert scans == []
    assert any("Security notice" in t for t in desk.dm_texts("omar"))
    # which application: the candidates are looked up one by one, unknown ones left out
    samir = await desk.world.directory.person("samir")
    assert samir is not None
    slots = {"software_candidates": "figma,no-such-app,powerbi"}
    names = CatalogueSource(desk.world.directory, desk.world.devices, CatalogCache(desk.desk.store))
    planner = Planner(
        PlannerDeps(default_skills(), desk.world.directory, desk.world.devices, names)
    )
    asked = await planner.plan(samir, "software_install", "software", slots, "an app")
    assert isinstance(asked, Question)
    assert asked.options == [("Figma", "figma"), ("Power BI Desktop", "powerbi")]


# --- backends without a capability -------------------------------------------------------


class SmartLockout:
    """A directory whose locks lift themselves and cannot be lifted early (Entra ID)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def set_locked(self, username: str, locked: bool) -> None:
        raise ClearsByItself(minutes=5)


async def test_a_lock_that_clears_by_itself_is_explained_with_the_reset_offered(
    store: Store,
) -> None:
    desk = await conversation(store, directory=SmartLockout)
    await desk.say("peter", "I'm locked out of my account")
    said = desk.said(await desk.verify("peter"))

    clears = [t for t in said if "clears by itself, usually within 5 minutes" in t]
    assert clears
    assert "reset my password" in clears[0]
    case = await desk.case("peter")
    assert case.status == CaseStatus.RESOLVED
    assert case.ticket_id is None  # nothing for a human to do
    assert texts.say("result.action_failed") not in said


async def test_an_unlock_the_directory_cannot_do_goes_to_a_human_saying_why(
    store: Store,
) -> None:
    desk = await lacking(store, "unlock")
    await desk.say("peter", "I'm locked out of my account")
    said = desk.said(await desk.verify("peter"))

    case = await desk.case("peter")
    assert case.status == CaseStatus.ESCALATED  # handed over: not refused, not failed
    assert texts.unsupported("unlock") in said
    assert texts.say("result.action_failed") not in said
    refusals = [texts.say(k) for k in texts.DESK.keys_under("refusal.")]
    assert refusals
    assert not any(t in said for t in refusals)
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert ticket.queue == "accounts"
    assert "does not support unlock" in ticket.details
    assert await desk.executed() == []
    peter = await desk.world.directory.person("peter")
    assert peter is not None
    assert peter.locked


async def test_signing_out_without_session_counts_is_done_without_claiming_a_count(
    store: Store,
) -> None:
    desk = await lacking(store, "session_count")
    said = await desk.say(
        "joanna",
        "I got an email asking me to confirm my login and I entered my password before I "
        "noticed the address was wrong",
    )
    assert await desk.executed() == [("revoke_sessions", {"user": "joanna"})]
    (action,) = await desk.actions()
    assert "can't say how many were open" in action["summary"]
    assert "no open sessions" not in action["summary"] + " ".join(desk.said(said))
    assert (await desk.case("joanna")).status == CaseStatus.ESCALATED  # to security, as ever
    assert await desk.world.directory.revocations("joanna") == 1


async def test_a_lost_device_the_backend_cannot_lock_still_reaches_security_at_once(
    store: Store,
) -> None:
    desk = await lacking(store, "device_lock")
    said = await desk.say("joanna", "I left my laptop on the train")
    case = await desk.case("joanna")
    assert case.status == CaseStatus.ESCALATED
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert (ticket.queue, ticket.priority) == ("security", "urgent")
    assert "device_lock" in ticket.details
    assert texts.unsupported("device_lock") in desk.said(said)
    assert any("Security notice" in t for t in desk.dm_texts("omar"))
    assert await desk.executed() == []
