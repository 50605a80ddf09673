"""Who may do what is decided by `policies/*.cedar`, not by Python: for each rule, a copy of
the shipped policy is edited and the desk's behaviour changes with it (the shipped
behaviour itself is what the rest of the suite checks)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Conversation, conversation

from bot import texts
from bot.cases import Case, CaseStatus
from bot.events import Escalated
from bot.policy import default_policy_dir
from bot.store import Store

Edit = Callable[[Path], None]


def replace(name: str, old: str, new: str) -> Edit:
    def edit(folder: Path) -> None:
        path = folder / name
        text = path.read_text()
        assert old in text, f"{old!r} is not in {name}"
        path.write_text(text.replace(old, new))

    return edit


def append(name: str, text: str) -> Edit:
    def edit(folder: Path) -> None:
        (folder / name).write_text(text)

    return edit


@pytest.fixture
def edited(tmp_path: Path, store: Store) -> Callable[..., object]:
    made = iter(range(100))

    async def make(*edits: Edit) -> Conversation:
        folder = tmp_path / f"policies-{next(made)}"
        shutil.copytree(default_policy_dir(), folder)
        for edit in edits:
            edit(folder)
        return await conversation(store, policies=folder)

    return make


async def escalate_monitor(desk: Conversation, who: str = "joanna") -> None:
    await desk.say(who, "my monitor flickers and then goes black")


def claim_button(desk: Conversation) -> object:
    return next(
        b
        for m in desk.chat.messages()
        if m.card and m.card.kind == "escalation"
        for b in m.card.buttons
        if b.action == "claim"
    )


# --- chat -----------------------------------------------------------------------------------


async def test_pressing_a_button_follows_the_policy(edited: Callable[..., object]) -> None:
    forbid_undo = append(
        "99-test.cedar",
        """
@id("test.no-undo-by-chat") @reason("undo_by_phone")
forbid (principal, action == Action::"press_button", resource) when { resource.action == "undo" };
""",
    )
    desk: Conversation = await edited(forbid_undo)  # type: ignore[assignment]
    await desk.say("mateo", "get me Notion please")
    said = await desk.press("mateo", "undo")
    assert desk.said(said) == [texts.say("button.not_yours")]
    assert [s for s, _ in await desk.executed()] == ["install_software"]


async def test_who_may_claim_follows_the_policy(edited: Callable[..., object]) -> None:
    security_claims = replace(
        "50-chat.cedar",
        'when { principal.roles.contains("oncall") || context.on_roster };',
        'when { principal.roles.contains("oncall") || principal.roles.contains("security") };',
    )
    button_for_security = replace(
        "50-chat.cedar",
        "principal.roles.contains(resource.role)\n};",
        'principal.roles.contains(resource.role) || principal.roles.contains("security")\n};',
    )
    desk: Conversation = await edited(security_claims, button_for_security)  # type: ignore[assignment]
    await escalate_monitor(desk)
    await desk.click("omar", claim_button(desk))  # type: ignore[arg-type]
    assert (await desk.case("joanna")).claimed_by == "omar"


async def test_who_may_relay_and_resolve_follows_the_policy(
    edited: Callable[..., object],
) -> None:
    admins_too = [
        replace(
            "50-chat.cedar",
            f'permit (principal, action == Action::"{action}", resource)\n'
            "when { resource has claimed_by && resource.claimed_by == principal };",
            f'permit (principal, action == Action::"{action}", resource)\n'
            "when { (resource has claimed_by && resource.claimed_by == principal) ||\n"
            '       principal.roles.contains("admin") };',
        )
        for action in ("relay_reply", "resolve_case")
    ]
    admins_press_resolve = append(
        "99-test.cedar",
        """
@id("test.admins-resolve")
permit (principal, action == Action::"press_button", resource)
when { resource.action == "resolve" && principal.roles.contains("admin") };
""",
    )
    desk: Conversation = await edited(*admins_too, admins_press_resolve)  # type: ignore[assignment]
    await escalate_monitor(desk)
    await desk.click("lucy", claim_button(desk))  # type: ignore[arg-type]
    case = await desk.case("joanna")
    await desk.send(desk.turn("tom", text="Tom here, a new monitor is on its way",
                              conversation_id="channel:oncall", thread=case.id))  # fmt: skip
    assert any("a new monitor is on its way" in t for t in desk.dm_texts("joanna"))
    resolve = next(b for m in desk.chat.thread(case.id) for b in m.latest.card.buttons
                   if m.latest.card and b.action == "resolve")  # fmt: skip
    await desk.click("tom", resolve, conversation_id="channel:oncall", thread=case.id)
    assert (await desk.case("joanna")).status == CaseStatus.RESOLVED


async def test_who_may_run_an_admin_command_follows_the_policy(
    edited: Callable[..., object],
) -> None:
    on_call_stats = append(
        "99-test.cedar",
        """
@id("test.on-call-stats")
permit (principal, action == Action::"run_command", resource == Command::"stats")
when { principal.roles.contains("oncall") };
""",
    )
    desk: Conversation = await edited(on_call_stats)  # type: ignore[assignment]
    said = await desk.command("lucy", "/itdesk stats")
    assert desk.said(said) == ["Desk statistics"]
    said = await desk.command("lucy", "/itdesk pause")
    assert desk.said(said) == [texts.say("admin.only_admins")]


async def test_who_sees_the_on_call_channel_follows_the_policy(
    edited: Callable[..., object],
) -> None:
    desk: Conversation = await edited()  # type: ignore[assignment]
    tom = await desk.world.directory.person("tom")
    assert tom is not None
    assert await desk.desk.sees_oncall(tom)
    no_admins = replace(
        "50-chat.cedar",
        'when { principal.roles.contains("oncall") || principal.roles.contains("admin") };',
        'when { principal.roles.contains("oncall") };',
    )
    desk = await edited(no_admins)  # type: ignore[assignment]
    assert not await desk.desk.sees_oncall(tom)


# --- approvals --------------------------------------------------------------------------------


async def test_the_one_level_up_fallback_is_the_policys(edited: Callable[..., object]) -> None:
    # Nina owns Pipeline Reports: her own request goes up to Victor, unless policy says not
    no_fallback = replace(
        "60-approvers.cedar", 'context.fallback && context.relations.contains("manager")',
        "false",
    )  # fmt: skip
    desk: Conversation = await edited(no_fallback)  # type: ignore[assignment]
    await desk.say("nina", "please add me to the pipeline reports group")
    await desk.verify("nina")
    assert (await desk.case("nina")).status == CaseStatus.ESCALATED
    assert not [m for m in desk.chat.dm("victor") if m.card and m.card.kind == "approval"]


async def test_self_approval_and_disabled_approvers_are_the_policys(
    edited: Callable[..., object],
) -> None:
    # Milton (disabled) owns the TPS Report Archive: the card goes one level up, unless policy
    # lets a disabled account approve
    allow_disabled = replace(
        "60-approvers.cedar", "when { principal.disabled };", "when { false };"
    )
    desk: Conversation = await edited(allow_disabled)  # type: ignore[assignment]
    await desk.say("joanna", "can I get access to the TPS report archive?")
    await desk.verify("joanna")
    assert [m for m in desk.chat.dm("milton") if m.card and m.card.kind == "approval"]


# --- labels -----------------------------------------------------------------------------------


async def test_the_risk_on_an_approval_card_is_the_policys(
    edited: Callable[..., object],
) -> None:
    access_is_high = replace(
        "70-labels.cedar", '["disable_account", "reset_mfa", "create_account"]',
        '["disable_account", "reset_mfa", "create_account", "add_to_group"]',
    )  # fmt: skip
    desk: Conversation = await edited(access_is_high)  # type: ignore[assignment]
    await desk.say("joanna", "could I get read access to pipeline reports? I'm helping out")
    await desk.verify("joanna")
    card = desk.card_with("nina", "approve").card
    assert card is not None
    assert {f.label: f.value for f in card.fields}["Risk"] == "High"


async def test_the_undo_window_is_the_policys(edited: Callable[..., object]) -> None:
    one_hour = replace("70-labels.cedar", '@hours("24")', '@hours("1")')
    desk: Conversation = await edited(one_hour)  # type: ignore[assignment]
    await desk.say("mateo", "get me Notion please")
    card = desk.card_with("mateo", "undo").card
    assert card is not None
    assert card.context == "Undo is available for 1 hour."
    await desk.wait(hours=2)
    said = await desk.press("mateo", "undo")
    assert desk.said(said) == [texts.say("button.expired")]
    no_undo = replace("70-labels.cedar", '@hours("24")\npermit', '@hours("24")\nforbid')
    desk = await edited(no_undo)  # type: ignore[assignment]
    await desk.say("mateo", "get me Notion please")
    assert not [m for m in desk.chat.dm("mateo") if m.button("undo")]


# --- routing and follow-ups --------------------------------------------------------------------


async def test_incident_routing_and_priority_are_the_policys(
    edited: Callable[..., object],
) -> None:
    high_not_urgent = replace(
        "80-routing.cedar",
        '@queue("security")\n@priority("urgent")\n@notify("security")\npermit (principal, '
        'action == Action::"hand_over"',
        '@queue("security")\n@priority("high")\npermit (principal, action == Action::"hand_over"',
    )
    desk: Conversation = await edited(high_not_urgent)  # type: ignore[assignment]
    await desk.say("peter", "I lost my work phone on the train")  # no phone to lock
    case = await desk.case("peter")
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert (ticket.queue, ticket.priority) == ("security", "high")
    assert not desk.dm_texts("omar")  # nobody told at once any more


async def test_what_follows_an_action_is_the_policys(edited: Callable[..., object]) -> None:
    quiet_lock = replace(
        "80-routing.cedar",
        '@id("follow-up.lost-device")\n@escalate("security")\n@priority("urgent")\n'
        '@notify("security")\npermit (principal, action == Action::"follow_up", resource)\n'
        'when { context.skill == "lock_device" };',
        "",
    )
    no_notices = replace("80-routing.cedar", '@notify_owner("true")', '@notify_owner("false")')
    desk: Conversation = await edited(quiet_lock, no_notices)  # type: ignore[assignment]
    await desk.say("samir", "my laptop NB-4104 was stolen from my car")
    assert (await desk.case("samir")).status == CaseStatus.RESOLVED  # locked, no handover
    assert not desk.dm_texts("omar")
    before = len(await desk.world.outbox.items("peter"))
    await desk.say("peter", "I'm locked out of my account")
    await desk.verify("peter")
    assert (await desk.case("peter")).status == CaseStatus.RESOLVED
    sent = (await desk.world.outbox.items("peter"))[before:]
    assert not [i for i in sent if i.kind == "notification"]  # no change notice


async def test_the_shipped_follow_ups_do_tell_and_hand_over(
    edited: Callable[..., object],
) -> None:
    desk: Conversation = await edited()  # type: ignore[assignment]
    await desk.say("samir", "my laptop NB-4104 was stolen from my car")
    assert (await desk.case("samir")).status == CaseStatus.ESCALATED
    assert desk.dm_texts("omar")
    await desk.say("peter", "I'm locked out of my account")
    await desk.verify("peter")
    notices = [i for i in await desk.world.outbox.items("peter") if i.kind == "notification"]
    assert notices


def test_an_edited_policy_is_picked_up_and_a_broken_one_is_not(tmp_path: Path) -> None:
    from bot.models import Person
    from bot.policy import PolicyEngine, questions

    folder = tmp_path / "policies"
    shutil.copytree(default_policy_dir(), folder)
    now = [0.0]
    engine = PolicyEngine(folder, recheck_every=1.0, monotonic=lambda: now[0])
    lucy = Person(username="lucy", name="Lucy", email="l@x.test", roles=("oncall",))
    stats = questions.command(lucy, "stats")
    assert not engine.ask(stats).allowed
    (folder / "99-test.cedar").write_text(
        'permit (principal, action == Action::"run_command", resource) '
        'when { principal.roles.contains("oncall") };'
    )
    assert not engine.ask(stats).allowed  # not looked at again within the second
    now[0] = 1.5
    assert engine.ask(stats).allowed
    (folder / "99-test.cedar").write_text("permit (principal, action, resource) when {")
    now[0] = 3.0
    assert engine.ask(stats).allowed  # the broken edit is refused; the last good set stays


# --- step-up limits ------------------------------------------------------------------------


async def test_how_many_checks_an_hour_is_the_policys(edited: Callable[..., object]) -> None:
    one_an_hour = replace(
        "90-step-up-limits.cedar",
        "context.pushes_last_hour + context.codes_last_hour >= 6",
        "context.pushes_last_hour + context.codes_last_hour >= 1",
    )
    desk: Conversation = await edited(one_an_hour)  # type: ignore[assignment]
    await desk.say("joanna", "could I get read access to pipeline reports? I'm helping out")
    assert (await desk.case("joanna")).status == CaseStatus.VERIFYING
    await desk.say("joanna", "please add me to the sales forecasts group too")
    case = await desk.case("joanna")
    assert case.status == CaseStatus.ESCALATED  # a second check this hour: a human instead
    assert any(texts.say("step_up.throttled") in c for c in _checked(case))


async def test_which_failure_ends_self_service_is_the_policys(
    edited: Callable[..., object],
) -> None:
    first_failure = replace(
        "90-step-up-limits.cedar", "context.failures_in_row >= 3", "context.failures_in_row >= 1"
    )
    desk: Conversation = await edited(first_failure)  # type: ignore[assignment]
    await desk.say("joanna", "could I get read access to pipeline reports? I'm helping out")
    said = await desk.verify("joanna", passes=False)
    assert texts.say("step_up.locked_out") in desk.said(said)
    assert (await desk.case("joanna")).status == CaseStatus.ESCALATED


async def test_credential_changes_the_desk_counted_are_the_policys_to_limit(
    edited: Callable[..., object],
) -> None:
    one_change_a_day = append(
        "99-test.cedar",
        """
@id("test.one-change-a-day") @reason("too_many_changes")
forbid (principal, action == Action::"send_check", resource)
when { context.credential_changes_last_day >= 1 };
""",
    )
    desk: Conversation = await edited(one_change_a_day)  # type: ignore[assignment]
    await desk.say("peter", "I'm locked out of my account")
    await desk.verify("peter")
    assert (await desk.case("peter")).status == CaseStatus.RESOLVED
    await desk.say("peter", "and now I need my password reset please")
    assert (await desk.case("peter")).status == CaseStatus.ESCALATED


def _checked(case: Case) -> list[str]:
    escalated = case.last(Escalated)
    assert escalated is not None
    return [escalated.summary, escalated.card.model_dump_json()]
