"""Reconciling what the backends changed with what the audit trail says the desk did, over a
window of time: every backend change should have exactly one `action.executed` record that
says it changed something, every such record should have its change, and each record should
carry the checks and approvals its case had, none of them given after the change.

What each skill is expected to change is `bot.reconcile_skills`; the changes come from each
backend's `ChangeLog` (`bot.ports`), the sandbox's today, a real backend's own log later."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.ports import BackendChange
from bot.reconcile_skills import Target, expected_changes

SLACK = timedelta(minutes=5)  # how far apart a change and its record may be (clocks differ)


@dataclass(frozen=True)
class Finding:
    kind: str  # change_without_record, record_without_change, change_with_records,
    # unknown_skill, missing_checks, missing_approval, approved_after_change
    message: str
    case: str | None = None
    action: str | None = None
    change: str | None = None


@dataclass
class ActionSeen:
    """One `action.executed` record that changed something, and what its case had before it."""

    case: str
    seq: int
    at: datetime
    action_id: str
    skill: str
    args: dict[str, Any]
    has_checks: bool
    approved_by: list[str]
    verified_before: bool = False
    approvals_before: list[tuple[datetime, str]] = field(default_factory=list)
    changes: list[BackendChange] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The record as the report lists it: whether it carries its checks, its approvals
        (None when its case had none), and the changes matched to it."""
        return {
            "case": self.case,
            "action": self.action_id,
            "skill": self.skill,
            "at": self.at.isoformat(),
            "args": self.args,
            "checks": self.has_checks,
            "approvals": self.approved_by if self.approvals_before else None,
            "changes": [c.id for c in self.changes],
        }


@dataclass
class Reconciliation:
    since: datetime
    until: datetime
    actions: list[ActionSeen]
    changes: int
    findings: list[Finding]

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_json(self) -> str:
        return json.dumps(
            {
                "since": self.since.isoformat(),
                "until": self.until.isoformat(),
                "changes": self.changes,
                "records": [a.row() for a in self.actions],
                "findings": [asdict(f) for f in self.findings],
            },
            indent=2,
        )

    def describe(self) -> str:
        head = (
            f"{self.since:%Y-%m-%d %H:%M} .. {self.until:%Y-%m-%d %H:%M}: {self.changes} backend "
            f"changes, {len(self.actions)} audited actions that changed something"
        )
        if self.clean:
            return f"{head}: they agree"
        lines = [f"  {f.kind}: {f.message}" for f in self.findings]
        return "\n".join([f"{head}: {len(self.findings)} findings", *lines])


def reconcile(
    records: Iterable[dict[str, Any]],
    changes: Sequence[BackendChange],
    since: datetime,
    until: datetime,
    *,
    slack: timedelta = SLACK,
) -> Reconciliation:
    """Compare audit `records` (case events) with backend `changes`. Both may reach `slack`
    past the window, so a change just inside it finds its record just outside; findings are
    only about what lies inside."""
    actions = _actions(records)
    inside = [a for a in actions if since <= a.at <= until]
    claimed = _match(actions, changes, slack)
    findings: list[Finding] = []
    for action in inside:
        expected = expected_changes(action.skill, action.args)
        if expected is None:
            findings.append(_finding("unknown_skill", action, "a skill reconcile has no map for"))
            continue
        matched = {c.target() for c in action.changes}
        for want in expected:
            if want.required and want.target not in matched:
                missing = f"no {_show(want.target)} in the backends' logs"
                findings.append(_finding("record_without_change", action, missing))
    window = [c for c in changes if since <= c.at <= until]
    for change in window:
        what = f"{_when(change.at)} {_show(change.target())} in {change.source}"
        owners = claimed.get(change.id, [])
        if not owners:
            said = f"{what} has no audit record"
            findings.append(Finding("change_without_record", said, change=change.id))
        elif len(owners) > 1:
            ids = ", ".join(f"{o.action_id} (case {o.case})" for o in owners)
            said = f"{what} has {len(owners)} records: {ids}"
            findings.append(Finding("change_with_records", said, change=change.id))
    for action in inside:
        findings.extend(_justification(action))
    return Reconciliation(since, until, inside, len(window), findings)


def _match(
    actions: list[ActionSeen], changes: Sequence[BackendChange], slack: timedelta
) -> dict[str, list[ActionSeen]]:
    """Give each record, oldest first, the nearest change of each kind it implies within
    `slack`: one not yet given to another record if there is one, else the nearest anyway
    (then that change has two records). Answers which records each change was given to."""
    by_target: dict[Target, list[BackendChange]] = defaultdict(list)
    for change in changes:
        by_target[change.target()].append(change)
    claimed: dict[str, list[ActionSeen]] = defaultdict(list)
    for action in sorted(actions, key=lambda a: a.at):
        for want in expected_changes(action.skill, action.args) or []:
            near = [c for c in by_target[want.target] if abs(c.at - action.at) <= slack]
            free = [c for c in near if c.id not in claimed]
            if not near:
                continue
            change = min(free or near, key=lambda c: abs(c.at - action.at))
            claimed[change.id].append(action)
            action.changes.append(change)
    return claimed


def _actions(records: Iterable[dict[str, Any]]) -> list[ActionSeen]:
    """The records that changed something, each with what its case had before it."""
    verified: dict[str, list[int]] = defaultdict(list)
    approved: dict[str, list[tuple[int, datetime, str]]] = defaultdict(list)
    actions: list[ActionSeen] = []
    for rec in records:
        case, kind = rec.get("case"), rec.get("type")
        if not isinstance(case, str) or "seq" not in rec:
            continue  # not a case event (a refused click, an admin command)
        seq, at, data = int(rec["seq"]), _at(rec["at"]), dict(rec.get("data") or {})
        if kind == "verified":
            verified[case].append(seq)
        elif kind == "approved":
            approved[case].append((seq, at, str(rec.get("actor"))))
        elif kind == "action.executed" and data.get("changed"):
            action = ActionSeen(
                case=case,
                seq=seq,
                at=at,
                action_id=str(data.get("action_id")),
                skill=str(data.get("skill")),
                args=dict(data.get("args") or {}),
                has_checks=data.get("verification") is not None,
                approved_by=[str(a) for a in data.get("approved_by") or []],
            )
            actions.append(action)
    for action in actions:
        action.verified_before = any(s < action.seq for s in verified[action.case])
        before = [(at, who) for s, at, who in approved[action.case] if s < action.seq]
        action.approvals_before = before
    return actions


def _justification(action: ActionSeen) -> list[Finding]:
    """Whether the record carries the checks and approvals of its case, and no approval
    came after the change it made."""
    found = []
    if action.verified_before and not action.has_checks:
        found.append(_finding("missing_checks", action, "its case passed a check it lacks"))
    missing = sorted({who for _, who in action.approvals_before} - set(action.approved_by))
    if missing:
        said = f"its case was approved by {', '.join(missing)}; the record does not say so"
        found.append(_finding("missing_approval", action, said))
    for change in action.changes:
        for at, who in action.approvals_before:
            if at > change.at:
                late = f"approved by {who} at {_when(at)}, after its change at {_when(change.at)}"
                found.append(_finding("approved_after_change", action, late))
    return found


def _finding(kind: str, action: ActionSeen, what: str) -> Finding:
    args = " ".join(f"{k}={v}" for k, v in sorted(action.args.items()))
    said = f"{_when(action.at)} {action.skill} {args} ({action.action_id}, case {action.case})"
    return Finding(kind, f"{said}: {what}", case=action.case, action=action.action_id)


def _show(target: Target) -> str:
    op, fields = target
    return f"{op}({', '.join(f'{k}={v}' for k, v in fields)})"


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}"


def _at(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))
