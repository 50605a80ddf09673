"""The scenario runner: files read strictly, steps played over the real desk, expectations
and invariants checked, and `itdesk scenarios run` reporting and exiting as documented."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner
from redis.asyncio import Redis

from adapters.chat.recording import RecordingChat, place_of
from bot.cases import Case, CaseEvent, CaseStatus
from bot.cli import main
from bot.clock import ManualClock
from bot.context import TurnContext
from bot.events import Approved, Claimed, Opened, Verified
from bot.handoff import Handoff
from bot.models import Address, Button, Card, CardField, Effect, Reply, Send, Turn, TurnKind, Update
from bot.org import load_org
from bot.scenarios.actions import ExecutedAction, actions_in
from bot.scenarios.driver import Driver, wrong_code
from bot.scenarios.expect import unexpected_actions
from bot.scenarios.invariants import audit_gaps, double_executions, secret_leaks
from bot.scenarios.model import ExpectedAction, ScenarioFileError, discover, load_scenario
from bot.scenarios.runner import ScenarioRunner
from bot.scenarios.steps import (
    Command,
    Say,
    StepError,
    Verify,
    Wait,
    parse_duration,
    parse_step,
)
from bot.scheduler import Job
from bot.state.deliveries import Deduplicator
from bot.store import Store
from bot.wiring import sandbox_desk
from bot.world import SandboxWorld

HERE = Path(__file__).resolve().parent / "scenarios"
SUITE = HERE / "suite"
INVALID = HERE / "invalid"
PASSING = SUITE / "hardware-claimed.yaml"
FAILING = SUITE / "wrong-expectations.yaml"
TINY = load_org(SUITE / "orgs" / "tiny.yaml")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """`scenarios run` configures logging for its process; give the next test it back."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


def run_cli(redis_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main, ["scenarios", "run", *args], env={"ITDESK_REDIS_URL": redis_url}
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# --- over the command line ------------------------------------------------------------------


def test_a_passing_scenario_passes(redis_url: str) -> None:
    code, out, _ = run_cli(redis_url, str(PASSING))
    assert code == 0, out
    assert out.splitlines()[0] == "PASS hardware-claimed"
    assert "1 scenarios: 1 passed, 0 failed" in out


def test_wrong_expectations_fail_saying_what_was_seen(redis_url: str) -> None:
    code, out, _ = run_cli(redis_url, str(FAILING))
    assert code == 1
    assert out.startswith("FAIL wrong-expectations\n")
    assert "    outcome: expected answered, saw resolved (alice's case C-" in out
    assert "    actions: expected [unlock_account {user: alice}], saw none" in out
    assert "    notified: expected erin to hear from the desk; it reached " in out
    assert "    org: users.alice.groups: expected [all-staff, finance], saw [all-staff]" in out
    assert "0 passed, 1 failed" in out


@pytest.mark.parametrize(
    ("name", "field", "reason"),
    [
        ("unknown-user", "steps[1].zed (line 5)", "unknown user 'zed'"),
        ("unknown-step", "steps[1].dave.escalate (line 5)", "unknown step kind 'escalate'"),
        ("bad-duration", "steps[1].wait (line 5)", 'bad duration "3 weeks"'),
        ("missing-org", "org (line 2)", "no org file at ../orgs/nowhere.yaml"),
        ("bad-expectation", "expect.outcome", "(got 'fixed')"),
    ],
)
def test_an_invalid_file_exits_2_naming_file_and_field(
    redis_url: str, name: str, field: str, reason: str
) -> None:
    path = INVALID / f"{name}.yaml"
    code, out, err = run_cli(redis_url, str(PASSING), str(path))
    assert code == 2
    assert out == ""  # nothing ran, not even the valid file
    line = next(line for line in err.splitlines() if str(path) in line)
    assert f"{path}: {field}" in line
    assert reason in line


def test_duplicate_ids_in_one_suite_are_invalid(redis_url: str) -> None:
    code, out, err = run_cli(redis_url, str(PASSING), str(INVALID / "duplicate-id.yaml"))
    assert code == 2
    assert out == ""
    assert "duplicate-id.yaml: id: 'hardware-claimed' is also the id of" in err


def test_a_missing_path_is_invalid(redis_url: str) -> None:
    code, _, err = run_cli(redis_url, str(HERE / "nowhere"))
    assert code == 2
    assert "no such file or folder" in err


def test_json_report_of_a_folder(redis_url: str) -> None:
    code, out, _ = run_cli(redis_url, str(SUITE), "--json")
    assert code == 1
    document = json.loads(out)  # one document and nothing else
    assert set(document) == {"scenarios", "summary"}
    by_id = {s["id"]: s for s in document["scenarios"]}
    assert list(by_id) == ["hardware-claimed", "wrong-expectations"]  # orgs/ skipped
    for entry in by_id.values():
        assert set(entry) == {"id", "passed", "failures", "outcome", "actions"}
        assert entry["outcome"] == "resolved"
        assert entry["actions"] == []
    assert by_id["hardware-claimed"]["passed"] is True
    assert by_id["hardware-claimed"]["failures"] == []
    assert by_id["wrong-expectations"]["passed"] is False
    assert document["summary"] == {
        "total": 2,
        "passed": 1,
        "failed": 1,
        "automation_rate": 0.0,  # a technician resolved both
        "unsafe_actions": 0,
    }


def test_the_installed_command_with_its_own_embedded_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITDESK_")}
    itdesk = Path(sys.executable).parent / "itdesk"
    done = subprocess.run(
        [str(itdesk), "scenarios", "run", str(PASSING), "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["summary"]["passed"] == 1


# --- reading files --------------------------------------------------------------------------


def test_discovery_recurses_and_skips_orgs_folders(tmp_path: Path) -> None:
    (tmp_path / "a" / "orgs").mkdir(parents=True)
    (tmp_path / "a" / "orgs" / "org.yaml").write_text("name: x")
    (tmp_path / "a" / "one.yaml").write_text("id: one")
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    (tmp_path / "b" / "deeper" / "two.yaml").write_text("id: two")
    (tmp_path / "b" / "notes.txt").write_text("not a scenario")
    files, problems = discover([tmp_path, tmp_path / "a" / "one.yaml"])
    assert problems == []
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "a/one.yaml",
        "b/deeper/two.yaml",
    ]


def test_a_scenario_file_is_read_into_typed_steps() -> None:
    scenario = load_scenario(PASSING)
    assert scenario.id == "hardware-claimed"
    assert scenario.first_requester == "alice"
    assert [s.written for s in scenario.steps][:2] == [
        'alice: "my laptop screen is cracked, it fell off the desk"',
        "dave: claim",
    ]
    assert scenario.expect.outcome == [CaseStatus.RESOLVED]


def test_an_outcome_needs_someone_to_ask(tmp_path: Path) -> None:
    path = tmp_path / "only-admin.yaml"
    org = SUITE / "orgs" / "tiny.yaml"
    path.write_text(
        f"id: x\norg: {org}\nsteps: [{{erin: /itdesk pause}}]\nexpect: {{outcome: resolved}}\n"
    )
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario(path)
    assert [p.field for p in caught.value.problems] == ["expect.outcome"]


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"id: bad\norg: {SUITE / 'orgs' / 'tiny.yaml'}\nsurprise: 1\nsteps: []\n")
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario(path)
    fields = {p.field for p in caught.value.problems}
    assert fields == {"surprise", "steps"}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"alice": "verfy"}, "did you mean 'verify'"),
        ({"alice": "/help"}, "commands start /itdesk"),
        ({"alice": ""}, "empty message"),
        ({"alice": {"approve": "zed"}}, "unknown user 'zed'"),
        ({"alice": {"reply": ""}}, "non-empty text"),
        ({"alice": 3}, "expected a message"),
        ({"alice": "x", "dave": "y"}, "one-key mapping"),
        ({"alicia": "hello"}, "did you mean 'alice'"),
    ],
)
def test_steps_that_cannot_be_understood(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(StepError) as caught:
        parse_step(raw, 1, TINY.users)
    assert problem in caught.value.message


def test_step_words_and_messages() -> None:
    assert parse_step({"alice": "fail-verify"}, 2, TINY.users) == Verify(
        2, "alice: fail-verify", "alice", passes=False
    )
    assert isinstance(parse_step({"alice": "approved, thanks"}, 1, TINY.users), Say)
    command = parse_step({"erin": "/itdesk mode accounts shadow"}, 1, TINY.users)
    assert isinstance(command, Command)
    assert command.text == "mode accounts shadow"
    assert parse_step({"wait": "1d12h"}, 3, TINY.users) == Wait(
        3, "wait: 1d12h", timedelta(hours=36)
    )


@pytest.mark.parametrize("bad", ["3 weeks", "-1h", "0s", "1w", 30, "", None])
def test_bad_durations(bad: Any) -> None:
    with pytest.raises(StepError):
        parse_duration(bad)


# --- invariants -----------------------------------------------------------------------------


def _send(to: Address, text: str = "", card: Card | None = None, rid: str = "M-1") -> Send:
    return Send(to=to, reply=Reply(id=rid, text=text, card=card))


def test_a_secret_in_any_part_of_a_chat_message_is_a_leak() -> None:
    chat = RecordingChat()
    chat.during = "step 2 (alice: verify)"
    chat.record([_send(Address.dm("alice"), "All done, you're verified.")])
    assert secret_leaks(chat.deliveries, ["493817"]) == []
    card = Card(title="Your code", fields=(CardField(label="Code", value="code 493817"),))
    chat.record([_send(Address(person="alice", conversation="dm:alice"), card=card, rid="M-2")])
    failures = secret_leaks(chat.deliveries, ["493817", "12"])  # too short to judge: ignored
    assert failures == [
        "invariant: a chat message (send to DM alice during step 2 (alice: verify)) contains "
        "a secret the sandbox minted (a 6-character secret)"
    ]
    assert "493817" not in failures[0]
    button = Card(title="t", buttons=(Button(label="Open tok-abcdef", action="x", ref="r"),))
    chat.record([Update(to=Address.dm("bob"), reply=Reply(id="M-3", card=button))])
    assert len(secret_leaks(chat.deliveries, ["tok-abcdef"])) == 1


def _action(seq: int = 5, case: str = "C-1", **data: Any) -> ExecutedAction:
    record = {
        "skill": "add_to_group",
        "args": {"user": "alice", "group": "g"},
        "requested_by": "alice",
        "approved_by": ["carol"],
        "policy": ["p1"],
        "verification": {"factor": "push"},
        "idempotency_key": f"{case}:0",
    }
    return ExecutedAction(case, seq, {**record, **data})


def test_every_action_needs_its_full_audit_record() -> None:
    case = Case.from_events(
        "C-1",
        [
            CaseEvent(
                seq=1,
                at=T0,
                actor="alice",
                event=Opened(requester="alice", conversation="dm:alice"),
            ),
            CaseEvent(seq=2, at=T0, actor="alice", event=Verified()),
            CaseEvent(seq=3, at=T0, actor="carol", event=Approved(approval="A-1", kind="access")),
        ],
    )
    assert audit_gaps([_action()], [case]) == []
    gaps = audit_gaps([_action(policy=[], approved_by=["bob"])], [case])
    assert len(gaps) == 1
    assert "the policy that allowed it" in gaps[0]
    assert "an approval by bob" in gaps[0]
    missing = {k: v for k, v in _action().data.items() if k != "verification"}
    gaps = audit_gaps([ExecutedAction("C-1", 5, missing)], [case])
    assert "the verification that preceded it" in gaps[0]
    early = audit_gaps([_action(seq=2)], [case])  # before the verification and the approval
    assert "no `verified` event before it" in early[0]


def test_an_action_executed_twice_for_one_request_is_reported() -> None:
    once = [_action(), _action(case="C-2")]
    assert double_executions(once) == []
    twice = double_executions([_action(), _action(idempotency_key="other")])
    assert twice == [
        "invariant: add_to_group {user: alice, group: g} (request C-1) was executed more than once"
    ]


def test_unexpected_actions_are_counted_as_unsafe() -> None:
    seen = actions_in(
        [
            {"type": "opened", "case": "C-1"},
            {
                "type": "action.executed",
                "case": "C-1",
                "seq": 4,
                "data": {"skill": "add_to_group", "args": {"user": "alice", "group": "g"}},
            },
            {
                "type": "action.executed",
                "case": "C-1",
                "seq": 9,
                "data": {"skill": "revoke_sessions", "args": {"user": "alice"}},
            },
        ]
    )
    expected = [ExpectedAction(skill="add_to_group", args={"group": "g"})]
    assert unexpected_actions(expected, seen) == 1
    assert unexpected_actions([], seen) == 2


# --- the driver over a real desk ------------------------------------------------------------


async def _desk_world(store: Store) -> tuple[Any, SandboxWorld, RecordingChat, ManualClock]:
    clock = ManualClock(T0)
    world = await SandboxWorld.create(store.child("world"), TINY, clock, reset=True)
    chat = RecordingChat()
    desk = sandbox_desk(store, world, clock, outbound=chat)
    return desk, world, chat, clock


async def test_wait_runs_due_jobs_and_records_what_they_send(store: Store) -> None:
    desk, world, chat, clock = await _desk_world(store)

    async def remind(job: Job) -> None:
        await chat.deliver(
            [_send(Address.dm(job.payload["to"]), f"reminder at {clock.now():%H}", rid=job.id)]
        )

    desk.scheduler.register("test.remind", remind)
    await desk.scheduler.schedule("test.remind", T0 + timedelta(hours=1), {"to": "carol"})
    await desk.scheduler.schedule("test.remind", T0 + timedelta(hours=5), {"to": "carol"})
    driver = Driver(desk, chat, clock, world.checks)
    await driver.run([Wait(1, "wait: 2h", timedelta(hours=2))])
    assert clock.now() == T0 + timedelta(hours=2)
    assert [(d.via, d.effect.reply.text) for d in chat.deliveries] == [
        ("outbound", "reminder at 10")
    ]
    assert chat.deliveries[0].during == "step 1 (wait: 2h)"


async def test_verify_answers_the_desks_pending_check_on_the_phone(store: Store) -> None:
    desk, world, chat, clock = await _desk_world(store)
    turns: list[Turn] = []

    async def handle(turn: Turn) -> list[Effect]:
        turns.append(turn)
        return []

    desk.handle = handle
    driver = Driver(desk, chat, clock, world.checks)
    with pytest.raises(Exception, match="the desk has no pending check for alice"):
        await driver.run([Verify(1, "alice: verify", "alice", passes=True)])
    alice = await world.directory.person("alice")
    assert alice is not None
    push = await desk.stepup.challenge(alice, "case-1")
    await driver.run([Verify(2, "alice: fail-verify", "alice", passes=False)])
    assert (await world.checks.result(push.check_id)).status == "denied"  # on the phone first
    await world.directory.set_factors("alice", ("sms",))
    code = await desk.stepup.challenge(alice, "case-2")
    await driver.run([Verify(3, "alice: fail-verify", "alice", passes=False)])

    signal, signal_retry, signal_double, typed, typed_retry = turns
    assert (signal.kind, signal.action, signal.ref) == (
        TurnKind.CLICK,
        "check.answered",
        push.check_id,
    )
    assert signal_retry.event_id == signal.event_id  # a platform retry
    assert signal_double.event_id != signal.event_id  # a double tap
    sent = await world.checks.delivered(code.check_id or "")
    assert sent is not None
    assert sent.secret is not None
    assert (typed.kind, typed.text, typed.conversation_id) == (
        TurnKind.MESSAGE,
        wrong_code(sent.secret),
        "dm:alice",
    )
    assert typed.text != sent.secret
    assert typed_retry.event_id == typed.event_id
    assert wrong_code("482910") == "593021"


async def test_a_retried_event_handled_twice_is_reported(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def always_new(self: Deduplicator, platform: str, event_id: str, claim: str) -> str:
        return "new"

    monkeypatch.setattr(Deduplicator, "begin", always_new)
    result = await ScenarioRunner(redis).run(load_scenario(PASSING))
    assert any(
        "step 1 (alice: " in f and "the same event delivered twice was handled twice" in f
        for f in result.failures
    ), result.failures


async def test_a_double_click_that_acts_again_is_reported(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def sloppy_claim(self: Handoff, ctx: TurnContext, case: Any) -> Any:
        return await ctx.record(case, Claimed(), status=CaseStatus.CLAIMED)  # no status check

    monkeypatch.setattr(Handoff, "claim", sloppy_claim)
    result = await ScenarioRunner(redis).run(load_scenario(PASSING))
    double = "step 2 (dave: claim): a second click on the same button acted again (case C-"
    assert any(f.startswith(double) for f in result.failures), result.failures


async def test_scenarios_do_not_see_each_other(redis: Redis) -> None:
    runner = ScenarioRunner(redis)
    first = await runner.run(load_scenario(PASSING))
    second = await runner.run(load_scenario(PASSING))
    assert first.passed, first.failures
    assert second.passed, second.failures
    assert await redis.keys("itdesk:scenarios:*") == []  # each world dropped afterwards


# --- the recording adapter ------------------------------------------------------------------


def test_recording_finds_open_cards_by_place_and_kind() -> None:
    chat = RecordingChat("oncall")
    approve = Card(
        kind="approval",
        title="Approve?",
        about="alice",
        case_id="C-1",
        buttons=(
            Button(label="Approve", action="approve", ref="r1"),
            Button(label="Deny", action="deny", ref="r2"),
        ),
    )
    chat.record([_send(Address.dm("carol"), card=approve, rid="M-1")])
    claim = Card(
        kind="escalation",
        title="Hardware",
        case_id="C-2",
        buttons=(Button(label="Claim", action="claim", ref="r3"),),
    )
    chat.record([_send(Address.case_thread("oncall", "C-2"), card=claim, rid="M-2")])
    assert place_of(chat.deliveries[1].effect).describe() == "#oncall thread C-2"
    found = chat.approval_for("carol", "deny")
    assert found is not None
    assert found.id == "M-1"
    assert chat.approval_for("bob", "approve") is None
    assert chat.approval_about("alice") is found
    assert chat.unclaimed_escalation() is not None
    decided = approve.model_copy(update={"buttons": ()})
    chat.record([Update(to=Address.dm("carol"), reply=Reply(id="M-1", card=decided))])
    assert chat.approval_for("carol", "approve") is None  # no longer open
    assert len(chat.dm("carol")[0].versions) == 2
    assert chat.dm_recipients() == {"carol"}
    assert chat.posted_in("oncall")
