"""The desk's own questions to policy, besides "may I act on this request?": who may press a
button, claim, relay and resolve a case, run an admin command, see the on-call channel and
approve; how risky a change is and how long Undo is offered; where a handover goes and what
follows an action; whether another sign-in check may be sent; whether the desk may write
first to someone about a lockout. Each builds the one Cedar request and the few entities
it needs.

An `Answer` is the decision with the policies that made it: a permit's annotations label
what it allows (`@risk`, `@hours`, `@queue`, `@notify`...), a forbid's `@reason` says why not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.models import Person
from bot.policy import entities as e
from bot.policy.entities import Entity, Resource
from bot.policy.files import Meta


@dataclass(frozen=True)
class Question:
    action: str
    principal: Person
    resource: dict[str, str]
    context: dict[str, Any]
    entities: tuple[Entity, ...]

    def cedar(self) -> tuple[dict[str, Any], list[Entity]]:
        request = {
            "principal": e.uid("Person", self.principal.username),
            "action": e.uid("Action", self.action),
            "resource": self.resource,
            "context": self.context,
        }
        return request, list(self.entities)


@dataclass(frozen=True)
class Answer:
    """Whether policy allows it, and the policies that decided."""

    allowed: bool
    matched: tuple[Meta, ...] = field(default_factory=tuple)

    @property
    def policy_ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.matched)

    @property
    def reason(self) -> str | None:
        """Why not: the `@reason` of a forbid that decided."""
        return next((m.get("reason") for m in self.matched if m.get("reason")), None)

    def labels(self, name: str) -> list[str]:
        """The `@<name>` annotations of the permits that allowed it, in policy order."""
        if not self.allowed:
            return []
        return [value for m in self.matched if (value := m.get(name)) is not None]


def _with(principal: Person, *more: Entity, named: Sequence[str] = ()) -> tuple[Entity, ...]:
    return (*e.people([principal], named), *more)


# --- chat: buttons, cases, commands, the on-call channel ---------------------------------


def press(
    person: Person,
    *,
    action: str,
    addressed_to: Sequence[str] | None,
    role: str | None,
    requester: str | None,
    on_roster: bool,
) -> Question:
    """May `person` press a button the desk recorded so?"""
    attrs: dict[str, Any] = {"action": action}
    if addressed_to is not None:
        attrs["addressed_to"] = [e.ref("Person", name) for name in addressed_to]
    if role is not None:
        attrs["role"] = role
    if requester is not None:
        attrs["requester"] = e.ref("Person", requester)
    key = e.uid("Button", "pressed")
    button = {"uid": key, "attrs": attrs, "parents": []}
    return Question("press_button", person, key, {"on_roster": on_roster},
                    _with(person, button))  # fmt: skip


def on_case(
    action: str,
    person: Person,
    *,
    case_id: str,
    requester: str,
    status: str,
    queue: str | None,
    claimed_by: str | None,
    on_roster: bool,
) -> Question:
    """May `person` claim, relay in, or resolve a case (`action`: claim_case, relay_reply,
    resolve_case)?"""
    attrs: dict[str, Any] = {"requester": e.ref("Person", requester), "status": status,
                             "queue": queue or "other"}  # fmt: skip
    if claimed_by:
        attrs["claimed_by"] = e.ref("Person", claimed_by)
    key = e.uid("Case", case_id)
    case = {"uid": key, "attrs": attrs, "parents": []}
    return Question(action, person, key, {"on_roster": on_roster}, _with(person, case))


def see_oncall(person: Person, *, on_roster: bool) -> Question:
    key = e.uid("Channel", "oncall")
    channel = {"uid": key, "attrs": {}, "parents": []}
    return Question("see_oncall", person, key, {"on_roster": on_roster}, _with(person, channel))


def command(person: Person, name: str) -> Question:
    key = e.uid("Command", name)
    entity = {"uid": key, "attrs": {}, "parents": []}
    return Question("run_command", person, key, {}, _with(person, entity))


# --- approvals ----------------------------------------------------------------------------


def approver(
    candidate: Person,
    requester: Person,
    *,
    kind: str,
    relations: Sequence[str],
    fallback: bool,
) -> Question:
    """May `candidate` approve `requester`'s request, being what `relations` say to it?"""
    context = {"kind": kind, "relations": sorted(set(relations)), "fallback": fallback}
    found = e.people([candidate, requester])
    return Question("approve", candidate, e.uid("Person", requester.username), context,
                    tuple(found))  # fmt: skip


# --- labels of an action ------------------------------------------------------------------


def about_skill(
    action: str, requester: Person, resource: Resource, *, skill: str, intent: str,
    **more: Any,
) -> Question:  # fmt: skip
    """A question about a skill's action on `resource` for `requester`: `rate_risk`,
    `offer_undo` or `follow_up` (with `changed`)."""
    resource_uid, resource_entity = e.resource(resource)
    known = [requester, *([resource] if isinstance(resource, Person) else [])]
    owner = e.owner_of(resource)
    found = e.people(known, [owner] if owner else [])
    context = {"skill": skill, "intent": intent, **more}
    return Question(action, requester, resource_uid, context,
                    (*found, *([resource_entity] if resource_entity else [])))  # fmt: skip


def hand_over(
    requester: Person, *, intent: str, queue: str, sure: bool, confidence: float
) -> Question:
    """Where a case for a human goes, and who hears of it at once."""
    context = {"intent": intent, "queue": queue, "sure": sure,
               "confidence": round(confidence * 100)}  # fmt: skip
    return Question("hand_over", requester, e.uid("Person", requester.username), context,
                    _with(requester))  # fmt: skip


def send_check(
    person: Person,
    *,
    pushes_last_hour: int,
    codes_last_hour: int,
    credential_changes_last_day: int,
    failures_in_row: int,
) -> Question:
    """May the desk send `person` a sign-in check now?"""
    context = {
        "pushes_last_hour": pushes_last_hour,
        "codes_last_hour": codes_last_hour,
        "credential_changes_last_day": credential_changes_last_day,
        "failures_in_row": failures_in_row,
    }
    return Question("send_check", person, e.uid("Person", person.username), context,
                    _with(person))  # fmt: skip


def reach_out(person: Person, *, kind: str) -> Question:
    """May the desk write first to `person` about a lockout (`kind` locked) or a risky
    sign-in (risk) it saw in the directory?"""
    context = {"groups": sorted(set(person.groups)), "kind": kind}
    return Question("reach_out", person, e.uid("Person", person.username), context,
                    _with(person))  # fmt: skip
