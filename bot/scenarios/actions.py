"""What counts as an executed action, read back from the audit trail.

The contract executed skills keep (`bot.actions.ActionRunner` writes it): every change the
desk makes to a backend is recorded as a case event of type `action.executed` (so it is also
in the hash-chained audit log, whose record names the case) with `data`:

- `skill`: the skill's name, e.g. `add_to_group`
- `args`: the skill's parameters as JSON, e.g. `{"user": "alice", "group": "finance-reports"}`
- `requested_by`: the username whose request this serves
- `approved_by`: the usernames who approved it (each with an `approved` event on the case),
  empty (or null) when policy asked for no approval
- `policy`: the ids of the policies that allowed it (a non-empty list)
- `verification`: the step-up that preceded it (the data of the case's `verified` event:
  factor and challenge), or null when policy asked for none
- `idempotency_key`: the key the skill executed under; one execution per key
- `request` (optional): the request it belongs to, when not the case the event is on

The keys `approved_by` and `verification` are always present, even when empty. The scenario
runner's invariants hold every executed action to this contract. For automation figures an
approver is anyone named in `approved_by` or acting in a case event of type `approved`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.state.audit import AuditLog

ACTION_EXECUTED = "action.executed"
APPROVED = "approved"
VERIFIED = "verified"


@dataclass(frozen=True)
class ExecutedAction:
    """One `action.executed` event as the audit trail has it."""

    case_id: str
    seq: int  # the event's place in its case
    data: Mapping[str, Any]

    @property
    def skill(self) -> str:
        return str(self.data.get("skill", "?"))

    @property
    def args(self) -> dict[str, Any]:
        args = self.data.get("args")
        return dict(args) if isinstance(args, Mapping) else {}

    @property
    def request(self) -> str:
        return str(self.data.get("request") or self.case_id)

    @property
    def approvers(self) -> list[str]:
        approved = self.data.get("approved_by")
        if isinstance(approved, str):
            return [approved]
        return [str(a) for a in approved] if isinstance(approved, list) else []

    def as_entry(self) -> dict[str, dict[str, Any]]:
        """As a scenario file writes it: `{skill: {args}}`."""
        return {self.skill: self.args}


def actions_in(records: Iterable[Mapping[str, Any]]) -> list[ExecutedAction]:
    """The executed actions among audit records, in the order they happened."""
    return [
        ExecutedAction(str(r.get("case", "")), int(r.get("seq") or 0), dict(r.get("data") or {}))
        for r in records
        if r.get("type") == ACTION_EXECUTED
    ]


async def audit_records(audit: AuditLog, start: int = 0) -> list[dict[str, Any]]:
    """The audit records from index `start` on."""
    return [rec.record async for rec in audit.records() if rec.index >= start]
