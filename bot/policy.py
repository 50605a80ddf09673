"""Policy as code: `policies/*.cedar`, evaluated in process with cedarpy.

The desk asks one question at every gate: "may I do this now?". A permit that decides means
act. Otherwise the forbid policies that matched say what stands in the way, through their
annotations: `@route("refuse")` with `@reason`, `@route("escalate")` with `@queue` and
`@priority`, `@route("step_up")`, or `@route("approval")` with `@approver`. When several
match, refusal beats escalation beats step-up beats approval; after a gate passes (the person
verified, an approver said yes) the desk asks again with the new context. No permit at all
means refuse ("not_allowed"). The Python here knows no rule of its own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cedarpy

from bot.models import Device, Group, Person, SoftwareItem
from skills import default_skills
from skills.registry import SkillRegistry

Route = Literal["act", "step_up", "approval", "escalate", "refuse"]
_PRECEDENCE: dict[str, int] = {"refuse": 0, "escalate": 1, "step_up": 2, "approval": 3}
ROUTES = frozenset(_PRECEDENCE)
DEFAULT_REFUSAL = "not_allowed"


class PolicyError(Exception):
    """The policy files are missing, unreadable, or invalid against the schema (operator)."""


@dataclass(frozen=True)
class Decision:
    """What policy says about one request at one gate."""

    route: Route
    policy_ids: tuple[str, ...]
    reason: str | None = None
    queue: str | None = None
    priority: str | None = None
    approver: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in {
                "route": self.route,
                "policies": list(self.policy_ids),
                "reason": self.reason,
                "queue": self.queue,
                "priority": self.priority,
                "approver": self.approver,
            }.items()
            if v is not None
        }


Resource = Person | Group | SoftwareItem | Device


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


def default_policy_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "policies"
    return here if here.is_dir() else Path.cwd() / "policies"


@dataclass(frozen=True)
class _Meta:
    id: str
    effect: str
    route: str | None
    reason: str | None
    queue: str | None
    priority: str | None
    approver: str | None


class PolicyEngine:
    """The loaded policy set, its schema, and the annotations of every policy."""

    def __init__(
        self, directory: Path | None = None, *, skills: SkillRegistry | None = None
    ) -> None:
        self.directory = directory or default_policy_dir()
        self.text, self.schema = _read(self.directory, skills or default_skills())
        problems = check_texts(self.text, self.schema)
        if problems:
            raise PolicyError("invalid policies:\n" + "\n".join(f"  {p}" for p in problems))
        self._meta = _annotations(self.text)
        self._policies = cedarpy.PolicySet.from_str(self.text)
        self._schema = cedarpy.Schema.from_str(self.schema)

    def decide(self, req: PolicyRequest) -> Decision:
        result = cedarpy.is_authorized(
            _request(req), self._policies, _entities(req), schema=self._schema
        )
        errors = result.diagnostics.errors
        if errors:
            # An evaluation error is never an allow: fail closed, to a human.
            return Decision(
                "escalate", (), reason="policy_error", queue=req.queue, priority="normal"
            )
        metas = [self._meta[pid] for pid in result.diagnostics.reasons if pid in self._meta]
        if result.allowed:
            return Decision("act", tuple(m.id for m in metas))
        routed = sorted(
            (m for m in metas if m.route in ROUTES), key=lambda m: _PRECEDENCE[m.route or "refuse"]
        )
        if not routed:
            return Decision("refuse", tuple(m.id for m in metas), reason=DEFAULT_REFUSAL)
        top = routed[0]
        same = tuple(m.id for m in routed if m.route == top.route)
        route: Route = top.route  # type: ignore[assignment]
        if route == "escalate":
            return Decision(
                route,
                same,
                reason=top.reason,
                queue=top.queue or req.queue,
                priority=top.priority or "normal",
            )
        if route == "approval":
            return Decision(route, (top.id,), approver=top.approver or "manager")
        return Decision(
            route, same, reason=top.reason or (DEFAULT_REFUSAL if route == "refuse" else None)
        )


def check(directory: Path, skills: SkillRegistry | None = None) -> list[str]:
    """Problems with the policy files in `directory` (empty when they are valid), against
    the schema with the actions of `skills` (the shipped ones by default)."""
    try:
        text, schema = _read(directory, skills or default_skills())
    except PolicyError as exc:
        return [str(exc)]
    return check_texts(text, schema)


def check_texts(text: str, schema: str) -> list[str]:
    try:
        result = cedarpy.validate_policies(text, schema)
    except Exception as exc:  # cedarpy raises plain exceptions for parse errors
        return [f"parse error: {exc}"]
    problems = [str(e) for e in result.errors]
    if problems:
        return problems
    try:
        metas = _annotations(text)
    except ValueError as exc:
        return [f"parse error: {exc}"]
    for meta in metas.values():
        if meta.effect == "forbid" and meta.route is None:
            problems.append(f"policy {meta.id}: a forbid needs @route(...) to say what happens")
        if meta.route is not None and meta.route not in ROUTES:
            problems.append(f"policy {meta.id}: unknown route {meta.route!r}")
        if meta.route == "approval" and meta.approver is None:
            problems.append(f"policy {meta.id}: an approval route needs @approver(...)")
    return problems


def _read(directory: Path, skills: SkillRegistry) -> tuple[str, str]:
    files = sorted(directory.glob("*.cedar"))
    schema_file = directory / "schema.cedarschema"
    if not files:
        raise PolicyError(f"no *.cedar policy files in {directory}")
    if not schema_file.is_file():
        raise PolicyError(f"no schema.cedarschema in {directory}")
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    return text, schema_file.read_text(encoding="utf-8") + skill_actions(skills)


_ENTITY_OF = {"person": "Person", "group": "Group", "software": "Software", "device": "Device"}


def skill_actions(skills: SkillRegistry) -> str:
    """The Cedar declaration of each skill's action, from the kind of resource it declares."""
    lines = ["", "// The skills' actions, as each skill declares itself (skills/)."]
    for skill in skills.all():
        lines.append(
            f"action {skill.name} appliesTo {{ principal: Person, "
            f"resource: {_ENTITY_OF[skill.resource]}, context: Request }};"
        )
    return "\n".join(lines) + "\n"


def _annotations(text: str) -> dict[str, _Meta]:
    parsed = json.loads(cedarpy.policies_to_json_str(text))
    metas: dict[str, _Meta] = {}
    for pid, body in parsed.get("staticPolicies", {}).items():
        ann: dict[str, str] = body.get("annotations", {}) or {}
        metas[pid] = _Meta(
            id=ann.get("id", pid),
            effect=body.get("effect", "permit"),
            route=ann.get("route"),
            reason=ann.get("reason"),
            queue=ann.get("queue"),
            priority=ann.get("priority"),
            approver=ann.get("approver"),
        )
    return metas


def _uid(kind: str, key: str) -> dict[str, str]:
    return {"type": kind, "id": key}


def _person_entity(p: Person) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "roles": list(p.roles),
        "privileged": p.privileged,
        "disabled": p.disabled,
        "locked": p.locked,
        "department": p.department,
    }
    if p.manager:
        attrs["manager"] = {"__entity": _uid("Person", p.manager)}
    return {"uid": _uid("Person", p.username), "attrs": attrs, "parents": []}


def _resource(req: PolicyRequest) -> tuple[dict[str, str], dict[str, Any] | None]:
    r = req.resource
    if isinstance(r, Person):
        return _uid("Person", r.username), None
    if isinstance(r, Group):
        attrs: dict[str, Any] = {"approval": r.approval, "sensitive": r.sensitive}
        if r.owner:
            attrs["owner"] = {"__entity": _uid("Person", r.owner)}
        if r.max_days is not None:
            attrs["max_days"] = r.max_days
        return _uid("Group", r.id), {"uid": _uid("Group", r.id), "attrs": attrs, "parents": []}
    if isinstance(r, SoftwareItem):
        attrs = {"approval": r.approval, "catalogued": req.catalogued}
        return _uid("Software", r.id), {
            "uid": _uid("Software", r.id),
            "attrs": attrs,
            "parents": [],
        }
    attrs = {"compliant": r.compliant}
    if r.owner:
        attrs["owner"] = {"__entity": _uid("Person", r.owner)}
    return _uid("Device", r.id), {"uid": _uid("Device", r.id), "attrs": attrs, "parents": []}


def _entities(req: PolicyRequest) -> list[dict[str, Any]]:
    people = {p.username: p for p in (req.principal, req.subject, *req.people.values())}
    if isinstance(req.resource, Person):
        people[req.resource.username] = req.resource
    # Every person referenced (managers, owners) must exist as an entity for `==` to work.
    referenced = {p.manager for p in people.values() if p.manager}
    for owner in (getattr(req.resource, "owner", None),):
        if owner:
            referenced.add(owner)
    entities = [_person_entity(p) for p in people.values()]
    for name in referenced - people.keys():
        entities.append(
            {
                "uid": _uid("Person", name),
                "attrs": {
                    "roles": [],
                    "privileged": False,
                    "disabled": False,
                    "locked": False,
                    "department": "",
                },
                "parents": [],
            }
        )
    _, resource_entity = _resource(req)
    if resource_entity is not None:
        entities.append(resource_entity)
    return entities


def _request(req: PolicyRequest) -> dict[str, Any]:
    resource_uid, _ = _resource(req)
    return {
        "principal": _uid("Person", req.principal.username),
        "action": _uid("Action", req.action),
        "resource": resource_uid,
        "context": {
            "subject": {"__entity": _uid("Person", req.subject.username)},
            "intent": req.intent,
            "queue": req.queue,
            "verified": req.verified,
            "approvals": sorted(req.approvals),
            "paused": req.paused,
            "mode": req.mode,
            "credentials_exposed": req.credentials_exposed,
            "undo": req.undo,
        },
    }
