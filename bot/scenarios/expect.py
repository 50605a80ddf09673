"""What a scenario left behind (`Observed`) and whether it is what the file expected.

Each failure names the expectation, what was expected and what was seen instead."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.chat.recording import RecordingChat
from bot.cases import Case, CaseStatus
from bot.ports import Ticket
from bot.scenarios.actions import APPROVED, ExecutedAction, actions_in, audit_records
from bot.scenarios.model import Expect, ExpectedAction, describe_action
from bot.wiring import WiredDesk
from bot.world import SandboxWorld

AUTOMATED = frozenset({CaseStatus.RESOLVED, CaseStatus.ANSWERED})
NOTIFYING = frozenset({"notification", "push", "code"})


@dataclass(frozen=True)
class Observed:
    """The end state of one scenario's world, as the expectations and invariants see it."""

    first_requester: str | None
    case: Case | None  # the first requester's newest case
    cases: Sequence[Case]
    actions: Sequence[ExecutedAction]
    ticket: Ticket | None
    org: dict[str, Any]
    notified: frozenset[str]
    secrets: Sequence[str]
    chat: RecordingChat

    @property
    def outcome(self) -> str | None:
        return self.case.status.value if self.case else None

    @property
    def automated(self) -> bool:
        """Resolved or answered with no human but an approver touching the case; with no
        case at all, when no human touched anything."""
        if self.case is None:
            return not any(case.humans for case in self.cases)
        if self.case.status not in AUTOMATED:
            return False
        approvers = {p for a in self.actions if a.request == self.case.id for p in a.approvers}
        approvers |= {e.actor for e in self.case.events if e.type == APPROVED}
        return not set(self.case.humans) - approvers


async def observe(
    desk: WiredDesk, world: SandboxWorld, chat: RecordingChat, first_requester: str | None
) -> Observed:
    """Read the end state: cases, executed actions, the sandbox, who heard from the desk."""
    people = await world.directory.people()
    outbox = [item for p in people for item in await world.outbox.items(p.username)]
    cases = await desk.cases.many(await desk.cases.all_ids())
    mine = [case for case in cases if case.requester == first_requester]
    case = mine[-1] if mine else None
    ticket = await world.tickets.get(case.ticket_id) if case and case.ticket_id else None
    # the on-call channel reaches whoever is on call: the role, and anyone an admin named
    oncall = {p.username for p in people if p.has_role("oncall")} | set(await desk.oncall.people())
    notified = chat.dm_recipients() | {i.to for i in outbox if i.kind in NOTIFYING}
    if chat.posted_in(desk.oncall_channel):
        notified |= oncall
    return Observed(
        first_requester=first_requester,
        case=case,
        cases=cases,
        actions=actions_in(await audit_records(desk.audit)),
        ticket=ticket,
        org=await world.snapshot(),
        notified=frozenset(notified),
        secrets=await world.outbox.secrets(),
        chat=chat,
    )


def check_expectations(expect: Expect, seen: Observed) -> list[str]:
    """Every expectation of `expect` that `seen` does not meet."""
    return [
        *_outcome(expect, seen),
        *_actions(expect.expected_actions, seen.actions),
        *_org(expect, seen),
        *_ticket(expect, seen),
        *_notified(expect, seen),
    ]


def unexpected_actions(expected: Sequence[ExpectedAction], seen: Sequence[ExecutedAction]) -> int:
    """How many executed actions match no expected one (each expected one matches once)."""
    unused = list(expected)
    unsafe = 0
    for action in seen:
        match = next((e for e in unused if _action_matches(e, action)), None)
        if match is None:
            unsafe += 1
        else:
            unused.remove(match)
    return unsafe


def _outcome(expect: Expect, seen: Observed) -> list[str]:
    wanted = expect.outcome
    if wanted is None:
        return []
    shown = " or ".join(s.value for s in wanted)
    if seen.case is None:
        return [f"outcome: expected {shown}, but {seen.first_requester} has no case"]
    if seen.case.status in wanted:
        return []
    return [
        f"outcome: expected {shown}, saw {seen.case.status.value} "
        f"({seen.first_requester}'s case {seen.case.id})"
    ]


def _actions(expected: Sequence[ExpectedAction], seen: Sequence[ExecutedAction]) -> list[str]:
    if len(expected) == len(seen) and all(map(_action_matches, expected, seen)):
        return []
    want = _listing(e.describe() for e in expected)
    saw = _listing(describe_action(a.skill, a.args) for a in seen)
    return [f"actions: expected {want}, saw {saw}"]


def _action_matches(expected: ExpectedAction, seen: ExecutedAction) -> bool:
    args = seen.args
    return expected.skill == seen.skill and all(
        key in args and _same(value, args[key]) for key, value in expected.args.items()
    )


def _org(expect: Expect, seen: Observed) -> list[str]:
    if expect.org is None:
        return []
    return [f"org: {path}: {problem}" for path, problem in _partial(expect.org, seen.org, "")]


def _partial(expected: Any, seen: Any, path: str) -> Iterable[tuple[str, str]]:
    """Where `seen` differs from `expected`: maps on the keys given, lists as sets."""
    if isinstance(expected, dict):
        if not isinstance(seen, dict):
            yield path, f"expected {_show(expected)}, saw {_show(seen)}"
            return
        for key, value in expected.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in seen:
                yield where, f"expected {_show(value)}, but the sandbox has no '{key}' there"
            else:
                yield from _partial(value, seen[key], where)
    elif not _same(expected, seen):
        yield path, f"expected {_show(expected)}, saw {_show(seen)}"


def _ticket(expect: Expect, seen: Observed) -> list[str]:
    wanted = expect.ticket
    if wanted is None:
        return []
    want = ", ".join(f"{k} {v}" for k, v in wanted.model_dump(exclude_none=True).items())
    if seen.case is None:
        return [f"ticket: expected {want}, but {seen.first_requester} has no case"]
    if seen.ticket is None:
        return [
            f"ticket: expected {want}, but case {seen.case.id} "
            f"({seen.case.status.value}) has no ticket"
        ]
    problems = []
    for name, value in wanted.model_dump(exclude_none=True).items():
        actual = getattr(seen.ticket, name)
        if actual != value:
            problems.append(f"ticket: expected {name} {value}, saw {actual} ({seen.ticket.id})")
    return problems


def _notified(expect: Expect, seen: Observed) -> list[str]:
    missing = [user for user in expect.notified if user not in seen.notified]
    if not missing:
        return []
    reached = ", ".join(sorted(seen.notified)) or "nobody"
    return [f"notified: expected {', '.join(missing)} to hear from the desk; it reached {reached}"]


def _same(expected: Any, seen: Any) -> bool:
    if isinstance(expected, list) and isinstance(seen, list | tuple):
        return {_canonical(x) for x in expected} == {_canonical(x) for x in seen}
    if isinstance(expected, dict) and isinstance(seen, dict):
        return not any(True for _ in _partial(expected, seen, ""))
    if isinstance(expected, bool) or isinstance(seen, bool):
        return expected is seen
    return bool(expected == seen or str(expected) == str(seen))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return (
        "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )


def _listing(items: Iterable[str]) -> str:
    shown = list(items)
    return "[" + "; ".join(shown) + "]" if shown else "none"
