"""Whom the desk does not write to first about a lockout: the members of the groups an IT
team lists in policy (`reach_out`, policies/95-outreach.cedar), but never a privileged
account, which is always told. The groups a policy names are checked against the directory
when the desk starts, as the rest of policy is checked, so a typo is not a silent no-op."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cedarpy

from bot.models import Person
from bot.policy import PolicyEngine, PolicyError, questions
from bot.ports import Directory

ACTION = "reach_out"
SET_TESTS = frozenset({"contains", "containsAny", "containsAll"})


@dataclass(frozen=True)
class Skip:
    """Why a person is not written to: policy's reason and the policies that said so."""

    reason: str
    policies: tuple[str, ...]


class OptOut:
    def __init__(self, policy: PolicyEngine) -> None:
        self._policy = policy

    def skips(self, person: Person, *, kind: str) -> Skip | None:
        """None when the desk writes to `person`; a privileged account is always written to."""
        if person.privileged:
            return None
        answer = self._policy.ask(questions.reach_out(person, kind=kind))
        if answer.allowed:
            return None
        return Skip(answer.reason or "opted_out", answer.policy_ids)

    def named_groups(self) -> dict[str, set[str]]:
        """The group ids each `reach_out` policy tests `context.groups` against, by policy."""
        parsed = json.loads(cedarpy.policies_to_json_str(self._policy.text))
        named: dict[str, set[str]] = {}
        for pid, body in parsed.get("staticPolicies", {}).items():
            if not _about_outreach(body.get("action", {})):
                continue
            found = {g for c in body.get("conditions", []) for g in _groups_in(c.get("body"))}
            if found:
                named[str((body.get("annotations") or {}).get("id", pid))] = found
        return named

    async def check(self, directory: Directory) -> None:
        """Raise `PolicyError` naming every group a `reach_out` policy lists that the
        directory does not have."""
        problems = [
            f"policy {pid}: no group {group!r} in the directory (the groups whose members "
            "the desk does not write to about a lockout must be groups' ids)"
            for pid, groups in sorted(self.named_groups().items())
            for group in sorted(groups)
            if await directory.group(group) is None
        ]
        if problems:
            raise PolicyError("invalid policies:\n" + "\n".join(f"  {p}" for p in problems))


def _about_outreach(scope: dict[str, Any]) -> bool:
    op, entity = scope.get("op"), scope.get("entity")
    if op == "All":
        return True
    entities = scope.get("entities") or ([entity] if entity else [])
    return any(isinstance(e, dict) and e.get("id") == ACTION for e in entities)


def _groups_in(node: Any) -> Iterator[str]:
    """The string values tested against `context.groups` anywhere under a condition."""
    if isinstance(node, list):
        for item in node:
            yield from _groups_in(item)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in SET_TESTS and isinstance(value, dict) and _is_groups(value.get("left")):
            yield from _values(value.get("right"))
        else:
            yield from _groups_in(value)


def _is_groups(node: Any) -> bool:
    attr = node.get(".") if isinstance(node, dict) else None
    return (
        isinstance(attr, dict)
        and attr.get("attr") == "groups"
        and attr.get("left") == {"Var": "context"}
    )


def _values(node: Any) -> Iterator[str]:
    if isinstance(node, dict) and isinstance(node.get("Value"), str):
        yield node["Value"]
    elif isinstance(node, dict) and isinstance(node.get("Set"), list):
        for item in node["Set"]:
            yield from _values(item)
