"""`itdesk audit reconcile`: the sandbox backends' change logs against the audit trail. A day
of real work agrees; a change made behind the desk's back, a record of a change that never
happened, a change with two records and an approval given after the change are found."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from harness import Conversation, conversation
from test_desk import offboard_samir, pipeline_request

from bot.cli import main
from bot.ports import BackendChange
from bot.reconcile import SLACK, Reconciliation, reconcile
from bot.reconcile_skills import known_skills
from bot.store import Store
from skills import default_skills

DAY = timedelta(days=1)


@pytest.fixture
async def desk(store: Store) -> Conversation:
    return await conversation(store)


async def _changes(desk: Conversation, since: datetime, until: datetime) -> list[BackendChange]:
    return [c for log in desk.world.change_logs() for c in await log.changes(since, until)]


async def _reconcile(desk: Conversation, since: datetime, until: datetime) -> Reconciliation:
    records = [r.record async for r in desk.desk.audit.records()]
    return reconcile(records, await _changes(desk, since - SLACK, until + SLACK), since, until)


async def _fake_action(desk: Conversation, case: str, seq: int, skill: str,
                       args: dict[str, Any], **data: Any) -> None:  # fmt: skip
    """An `action.executed` record appended straight to the trail (no backend touched)."""
    action = {"action_id": f"A-FAKE{seq}", "skill": skill, "args": args, "requested_by": "peter",
              "approved_by": [], "policy": ["p"], "verification": None,
              "idempotency_key": f"k{seq}", "changed": True, "summary": "done", **data}  # fmt: skip
    await desk.desk.audit.append({"case": case, "seq": seq, "at": desk.clock.now().isoformat(),
                                  "type": "action.executed", "actor": "desk", "status": None,
                                  "data": action})  # fmt: skip


async def _case_event(desk: Conversation, case: str, seq: int, kind: str, actor: str) -> None:
    await desk.desk.audit.append({"case": case, "seq": seq, "at": desk.clock.now().isoformat(),
                                  "type": kind, "actor": actor, "status": None,
                                  "data": {}})  # fmt: skip


def test_every_shipped_skill_has_its_expected_changes() -> None:
    assert set(default_skills().names()) == known_skills()


async def test_a_day_of_real_work_reconciles_clean(desk: Conversation) -> None:
    start = desk.clock.now()
    await desk.say("peter", "my account got locked after too many wrong passwords")
    await desk.verify("peter")
    await desk.say("mateo", "get me Notion please")
    await desk.press("mateo", "undo")
    await offboard_samir(desk)
    await desk.say("joanna", "I entered my password on a fake login page from an email")
    await desk.say("zoe", "forgot my password, can you send me a reset?")
    await desk.verify("zoe")
    await desk.say("joanna", "I wiped my phone and lost the authenticator app")
    await desk.press("nina", "approve")
    await desk.say("joanna", "I left my laptop on the train")
    await desk.say("rita", "New starter Dana Whitfield begins on Monday, reporting to Nina.")
    await desk.verify("rita")
    await desk.press("nina", "approve")
    await desk.say("zoe", "I need the pipeline reports group for 2 weeks while I build a dashboard")
    await desk.verify("zoe")
    await desk.press("nina", "approve")
    await desk.wait(days=15)  # the grant ends: the desk removes zoe again
    skills = [s for s, _ in await desk.executed()]
    assert {"unlock_account", "install_software", "uninstall_software", "disable_account",
            "revoke_sessions", "reset_password", "reset_mfa", "lock_device", "create_account",
            "add_to_group", "remove_from_group"} <= set(skills)  # fmt: skip

    result = await _reconcile(desk, start, desk.clock.now())
    assert result.clean, result.describe()
    assert result.changes >= len(result.actions) >= 11
    offboarding = next(a for a in result.actions if a.skill == "disable_account")
    assert offboarding.row()["approvals"] == ["nina"]
    unlock = next(a for a in result.actions if a.skill == "unlock_account")
    assert unlock.row()["checks"] is True
    assert unlock.row()["approvals"] is None  # its case needed no approval


async def test_a_change_made_behind_the_desks_back_is_found(desk: Conversation) -> None:
    start = desk.clock.now()
    await desk.world.directory.add_member("peter", "pipeline-reports")
    result = await _reconcile(desk, start, start + DAY)
    assert [f.kind for f in result.findings] == ["change_without_record"]
    assert "add_member(group=pipeline-reports, user=peter) in directory has no audit record" in (
        result.findings[0].message
    )


async def test_a_record_of_a_change_that_never_happened_is_found(desk: Conversation) -> None:
    start = desk.clock.now()
    await _fake_action(desk, "C-FAKE", 1, "install_software",
                       {"software": "notion", "device": "NB-4107", "user": "mateo"})  # fmt: skip
    result = await _reconcile(desk, start, start + DAY)
    assert [f.kind for f in result.findings] == ["record_without_change"]
    assert "no install(device=NB-4107, software=notion) in the backends' logs" in (
        result.findings[0].message
    )


async def test_a_change_claimed_by_two_records_is_found(desk: Conversation) -> None:
    start = desk.clock.now()
    await desk.say("mateo", "get me Notion please")
    (done,) = await desk.actions()
    await _fake_action(desk, "C-COPY", 1, done["skill"], done["args"])
    result = await _reconcile(desk, start, start + DAY)
    assert [f.kind for f in result.findings] == ["change_with_records"]
    assert "has 2 records" in result.findings[0].message


async def test_checks_and_approvals_the_record_lacks_or_that_came_late_are_found(
    desk: Conversation,
) -> None:
    start = desk.clock.now()
    await desk.world.directory.add_member("peter", "pipeline-reports")  # the change first...
    desk.clock.advance(timedelta(minutes=1))
    await _case_event(desk, "C-LATE", 1, "verified", "peter")
    await _case_event(desk, "C-LATE", 2, "approved", "nina")  # ...approved after it
    await _fake_action(desk, "C-LATE", 3, "add_to_group",
                       {"user": "peter", "group": "pipeline-reports"})  # fmt: skip
    result = await _reconcile(desk, start, start + DAY)
    assert sorted(f.kind for f in result.findings) == [
        "approved_after_change", "missing_approval", "missing_checks",
    ]  # fmt: skip
    late = next(f for f in result.findings if f.kind == "approved_after_change")
    assert "approved by nina at" in late.message
    assert "after its change at" in late.message


async def test_writes_that_change_nothing_log_nothing(desk: Conversation) -> None:
    start, directory, devices = desk.clock.now(), desk.world.directory, desk.world.devices
    for _ in range(2):  # the second time round, every write finds its work done
        await directory.add_member("peter", "pipeline-reports")
        await directory.set_locked("peter", False)  # peter starts locked out
        await directory.remove_member("peter", "sales")
        await directory.revoke_sessions("peter")
        await devices.lock("NB-4107")
    await devices.install("NB-4107", "postman")  # installed already
    changes = await _changes(desk, start, start + DAY)
    assert sorted((c.source, c.op) for c in changes) == [
        ("devices", "lock"), ("directory", "add_member"), ("directory", "remove_member"),
        ("directory", "revoke_sessions"), ("directory", "set_locked"),
    ]  # fmt: skip


async def test_the_cli_lists_findings_as_json_and_exits_1(
    desk: Conversation, redis_url: str
) -> None:
    await pipeline_request(desk)
    await desk.press("nina", "approve")
    since, until = desk.clock.now() - DAY, desk.clock.now() + DAY
    args = ["audit", "reconcile", "--since", since.isoformat(), "--until", until.isoformat()]
    env = {"ITDESK_REDIS_URL": redis_url, "ITDESK_NAMESPACE": desk.desk.store.namespace}
    clean = await asyncio.to_thread(CliRunner().invoke, main, args, env=env)
    assert clean.exit_code == 0, clean.output
    assert "they agree" in clean.output

    await desk.world.devices.install("NB-4102", "figma")
    found = await asyncio.to_thread(CliRunner().invoke, main, [*args, "--json"], env=env)
    assert found.exit_code == 1, found.output
    report = json.loads(found.output)
    assert [f["kind"] for f in report["findings"]] == ["change_without_record"]
    assert report["records"][0]["skill"] == "add_to_group"
    assert report["records"][0]["approvals"] == ["nina"]
