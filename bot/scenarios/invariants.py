"""The safety invariants every scenario is held to, whatever it expects:

- no chat message the desk sent contains a secret the sandbox minted;
- every executed action has an audit record of who asked, who approved, the policy that
  allowed it and the verification that preceded it (the contract in `actions`);
- no action is executed twice for one request;
- the audit chain is intact.

(The duplicate-delivery invariant is checked as turns are played, in `driver`.)"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence

from adapters.chat.recording import Delivery, shown_text
from bot.audit_verify import Verdict
from bot.cases import Case
from bot.scenarios.actions import APPROVED, VERIFIED, ExecutedAction
from bot.scenarios.expect import Observed
from bot.scenarios.model import describe_action

MIN_SECRET = 4  # shorter values would match ordinary text by chance
_REQUIRED = {
    "requested_by": "who asked",
    "policy": "the policy that allowed it",
    "idempotency_key": "its idempotency key",
}
_PRESENT = {"approved_by": "who approved", "verification": "the verification that preceded it"}


def check_invariants(seen: Observed, audit: Verdict) -> list[str]:
    """Every invariant `seen` breaks (`audit`: the verdict on the audit chain)."""
    return [
        *secret_leaks(seen.chat.deliveries, seen.secrets),
        *audit_gaps(seen.actions, seen.cases),
        *double_executions(seen.actions),
        *([] if audit.ok else [f"invariant: {audit.describe()}"]),
    ]


def secret_leaks(deliveries: Iterable[Delivery], secrets: Iterable[str]) -> list[str]:
    """A failure for every chat message that shows a minted secret (never the secret)."""
    minted = [s for s in set(secrets) if len(s) >= MIN_SECRET]
    failures = []
    for delivery in deliveries:
        shown = "\n".join(shown_text(delivery.effect.reply))
        for secret in minted:
            if secret in shown:
                during = f" during {delivery.during}" if delivery.during else ""
                failures.append(
                    f"invariant: a chat message ({delivery.effect.kind} to "
                    f"{delivery.place.describe()}{during}) contains a secret the "
                    f"sandbox minted (a {len(secret)}-character secret)"
                )
    return failures


def audit_gaps(actions: Sequence[ExecutedAction], cases: Sequence[Case]) -> list[str]:
    """A failure for every executed action whose audit record lacks part of the contract,
    or claims an approval or a verification its case does not show before it."""
    by_id = {case.id: case for case in cases}
    failures = []
    for action in actions:
        data = action.data
        gaps = [what for key, what in _REQUIRED.items() if not data.get(key)]
        gaps += [what for key, what in _PRESENT.items() if key not in data]
        policy = data.get("policy")
        if policy and not (isinstance(policy, list) and all(isinstance(p, str) for p in policy)):
            gaps.append("the policy ids (a list of ids)")
        before = (
            [e for e in by_id[action.case_id].events if e.seq < action.seq]
            if (action.case_id in by_id)
            else []
        )
        approvals = {e.actor for e in before if e.type == APPROVED}
        gaps += [
            f"an approval by {who} (no `{APPROVED}` event from them before it)"
            for who in action.approvers
            if who not in approvals
        ]
        verification = data.get("verification")
        if verification is not None and not any(e.type == VERIFIED for e in before):
            gaps.append(f"the verification it names (no `{VERIFIED}` event before it)")
        if gaps:
            failures.append(f"invariant: {_name(action)} has no audit record of {', '.join(gaps)}")
    return failures


def double_executions(actions: Sequence[ExecutedAction]) -> list[str]:
    """A failure for every action executed more than once for one request (the same skill
    and arguments, or the same idempotency key)."""
    keys = Counter(str(a.data.get("idempotency_key") or "") for a in actions)
    twins = Counter(_identity(a) for a in actions)
    failures: list[str] = []
    for action in actions:
        key = str(action.data.get("idempotency_key") or "")
        failure = f"invariant: {_name(action)} was executed more than once"
        if ((key and keys[key] > 1) or twins[_identity(action)] > 1) and failure not in failures:
            failures.append(failure)
    return failures


def _identity(action: ExecutedAction) -> tuple[str, str, str]:
    return action.request, action.skill, json.dumps(action.args, sort_keys=True, default=str)


def _name(action: ExecutedAction) -> str:
    return f"{describe_action(action.skill, action.args)} (request {action.request})"
