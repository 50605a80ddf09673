"""The policy files: `policies/*.cedar` and `schema.cedarschema` (to which the desk adds each
skill's action, as the skill declares it), checked against each other, with the annotations
of every policy (`@id`, `@route`, `@reason`, `@queue`, `@approver`, `@risk`...)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cedarpy

from skills import default_skills
from skills.registry import SkillRegistry

ROUTES = frozenset({"refuse", "escalate", "step_up", "approval"})


class PolicyError(Exception):
    """The policy files are missing, unreadable, or invalid against the schema (operator)."""


@dataclass(frozen=True)
class Meta:
    """One policy as the desk reads it: its id, effect, and annotations."""

    id: str
    effect: str
    annotations: Mapping[str, str]
    requests: bool  # it may apply to the desk's requests (a skill's action or open_case)

    def get(self, name: str) -> str | None:
        return self.annotations.get(name)


@dataclass(frozen=True)
class PolicyFiles:
    """The text of the policies and the schema, as loaded from one folder."""

    policies: str
    schema: str


def default_policy_dir() -> Path:
    here = Path(__file__).resolve().parents[2] / "policies"
    return here if here.is_dir() else Path.cwd() / "policies"


def read(directory: Path, skills: SkillRegistry) -> PolicyFiles:
    files = sorted(directory.glob("*.cedar"))
    schema_file = directory / "schema.cedarschema"
    if not files:
        raise PolicyError(f"no *.cedar policy files in {directory}")
    if not schema_file.is_file():
        raise PolicyError(f"no schema.cedarschema in {directory}")
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    return PolicyFiles(text, schema_file.read_text(encoding="utf-8") + skill_actions(skills))


def fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when a policy file is edited, added or removed."""
    paths = [*sorted(directory.glob("*.cedar")), directory / "schema.cedarschema"]
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths if p.is_file())


_ENTITY_OF = {"person": "Person", "group": "Group", "software": "Software", "device": "Device"}


def skill_actions(skills: SkillRegistry) -> str:
    """The Cedar declaration of each skill's action (a request), from the kind of resource
    the skill declares."""
    lines = ["", "// The skills' actions, as each skill declares itself (skills/)."]
    for skill in skills.all():
        lines.append(
            f"action {skill.name} in [request] appliesTo {{ principal: Person, "
            f"resource: {_ENTITY_OF[skill.resource]}, context: Request }};"
        )
    return "\n".join(lines) + "\n"


def check(directory: Path, skills: SkillRegistry | None = None) -> list[str]:
    """Problems with the policy files in `directory` (empty when they are valid), against
    the schema with the actions of `skills` (the shipped ones by default)."""
    try:
        files = read(directory, skills or default_skills())
    except PolicyError as exc:
        return [str(exc)]
    return check_texts(files)


def check_texts(files: PolicyFiles) -> list[str]:
    try:
        result = cedarpy.validate_policies(files.policies, files.schema)
    except Exception as exc:  # cedarpy raises plain exceptions for parse errors
        return [f"parse error: {exc}"]
    problems = [str(e) for e in result.errors]
    if problems:
        return problems
    try:
        metas = policy_metas(files.policies)
    except ValueError as exc:
        return [f"parse error: {exc}"]
    for meta in metas.values():
        route = meta.get("route")
        if meta.effect == "forbid" and meta.requests and route is None:
            problems.append(f"policy {meta.id}: a forbid on requests needs @route(...)")
        if route is not None and route not in ROUTES:
            problems.append(f"policy {meta.id}: unknown route {route!r}")
        if route == "approval" and meta.get("approver") is None:
            problems.append(f"policy {meta.id}: an approval route needs @approver(...)")
    return problems


def policy_metas(text: str) -> dict[str, Meta]:
    """Every policy's id, effect and annotations, by Cedar's own policy id."""
    parsed = json.loads(cedarpy.policies_to_json_str(text))
    metas: dict[str, Meta] = {}
    for pid, body in parsed.get("staticPolicies", {}).items():
        ann: dict[str, str] = dict(body.get("annotations", {}) or {})
        metas[pid] = Meta(
            id=ann.get("id", pid),
            effect=body.get("effect", "permit"),
            annotations=ann,
            requests=_about_requests(body.get("action", {})),
        )
    return metas


def _about_requests(scope: Mapping[str, object]) -> bool:
    """Whether a policy's action scope may cover a request (a skill's action, open_case):
    everything but the desk's own questions, which it names."""
    op = scope.get("op")
    if op == "All":
        return True
    names: list[str] = []
    entity = scope.get("entity")
    if op == "==" and isinstance(entity, dict):
        names = [str(entity.get("id"))]
    elif op == "in":
        found = scope.get("entity") or scope.get("entities") or []
        items = found if isinstance(found, list) else [found]
        names = [str(e.get("id")) for e in items if isinstance(e, dict)]
    return not names or any(name not in QUESTIONS for name in names)


# The desk's own questions (see schema.cedarschema), which no @route applies to.
QUESTIONS = frozenset(
    {"press_button", "claim_case", "relay_reply", "resolve_case", "see_oncall", "run_command",
     "approve", "rate_risk", "offer_undo", "follow_up", "hand_over", "send_check", "reach_out"}
)  # fmt: skip
