"""The desk's main question, asked at every gate: may `principal` have this request's action
done to `resource` now? A permit that decides means act; otherwise the forbids that matched
say what stands in the way through `@route`: refuse (with `@reason`), escalate (with
`@queue`, `@priority`), step_up, or approval (with `@approver`). Refusal beats escalation
beats step-up beats approval. No permit at all means refuse ("not_allowed")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.events import Decided
from bot.models import Person
from bot.policy import entities as e
from bot.policy.entities import Entity, Resource
from bot.policy.files import ROUTES, Meta

Route = Literal["act", "step_up", "approval", "escalate", "refuse"]
_PRECEDENCE: dict[str, int] = {"refuse": 0, "escalate": 1, "step_up": 2, "approval": 3}
DEFAULT_REFUSAL = "not_allowed"


@dataclass(frozen=True)
class Decision:
    """What policy says about one request at one gate."""

    route: Route
    policy_ids: tuple[str, ...]
    reason: str | None = None
    queue: str | None = None
    priority: str | None = None
    approver: str | None = None

    def event(self) -> Decided:
        """The case event that records this decision."""
        return Decided(
            route=self.route,
            policies=list(self.policy_ids),
            reason=self.reason,
            queue=self.queue,
            priority=self.priority,
            approver=self.approver,
        )


@dataclass
class PolicyRequest:
    """One question to policy: may `principal` have `action` done to `resource` now?"""

    principal: Person
    action: str
    resource: Resource
    subject: Person
    intent: str
    queue: str
    verified: bool = False
    approvals: frozenset[str] = frozenset()
    paused: bool = False
    mode: str = "autonomous"
    credentials_exposed: bool = False
    catalogued: bool = True
    undo: bool = False  # reversing the desk's own earlier action for the requester
    people: dict[str, Person] = field(default_factory=dict)  # managers etc. referenced

    def cedar(self) -> tuple[dict[str, Any], list[Entity]]:
        """The Cedar request and the entities it needs."""
        resource_uid, resource_entity = e.resource(self.resource, catalogued=self.catalogued)
        known = [self.principal, self.subject, *self.people.values()]
        if isinstance(self.resource, Person):
            known.append(self.resource)
        owner = e.owner_of(self.resource)
        found = e.people(known, [owner] if owner else [])
        request = {
            "principal": e.uid("Person", self.principal.username),
            "action": e.uid("Action", self.action),
            "resource": resource_uid,
            "context": {
                "subject": e.ref("Person", self.subject.username),
                "intent": self.intent,
                "queue": self.queue,
                "verified": self.verified,
                "approvals": sorted(self.approvals),
                "paused": self.paused,
                "mode": self.mode,
                "credentials_exposed": self.credentials_exposed,
                "undo": self.undo,
            },
        }
        return request, found + ([resource_entity] if resource_entity else [])


def decision(req: PolicyRequest, allowed: bool, matched: Sequence[Meta], errors: bool) -> Decision:
    """The route the matched policies give."""
    if errors:
        # An evaluation error is never an allow: fail closed, to a human.
        return Decision("escalate", (), reason="policy_error", queue=req.queue, priority="normal")
    if allowed:
        return Decision("act", tuple(m.id for m in matched))
    routed = sorted(
        (m for m in matched if m.get("route") in ROUTES),
        key=lambda m: _PRECEDENCE[m.get("route") or "refuse"],
    )
    if not routed:
        return Decision("refuse", tuple(m.id for m in matched), reason=DEFAULT_REFUSAL)
    top = routed[0]
    route: Route = top.get("route")  # type: ignore[assignment]
    same = tuple(m.id for m in routed if m.get("route") == route)
    if route == "escalate":
        return Decision(route, same, reason=top.get("reason"),
                        queue=top.get("queue") or req.queue,
                        priority=top.get("priority") or "normal")  # fmt: skip
    if route == "approval":
        return Decision(route, (top.id,), approver=top.get("approver") or "manager")
    reason = top.get("reason") or (DEFAULT_REFUSAL if route == "refuse" else None)
    return Decision(route, same, reason=reason)
