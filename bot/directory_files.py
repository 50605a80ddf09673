"""What a real directory does not say by itself, in two small YAML files an IT team keeps:

- the roles file (`ITDESK_ROLES_FILE`): which directory groups make desk roles, and which make
  their members privileged (the desk never acts on a privileged account by itself);
- the catalogue file (`ITDESK_CATALOGUE_FILE`): the groups people may ask for (owner, approval,
  sensitivity, maximum days) and the software catalogue, in the org file's `groups` and
  `software` format, keyed by the directory's group id (its `cn`, or `sAMAccountName` on AD).

    roles:
      admin: [it-admins]
      oncall: [it-oncall]
      hr: [hr-team]
      security: [security-team]
    privileged: [domain-admins, finance-approvers]

Group ids match whatever their case. Both files are read at start-up; every problem in them
is reported at once, naming the file, the field and the line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.models import Role
from bot.org import OrgFileError, OrgGroup, OrgSoftware
from bot.org_checks import OrgProblem, pydantic_problems
from bot.org_yaml import read_yaml

M = TypeVar("M", bound=BaseModel)
ROLES = frozenset(get_args(Role))


class RoleMap(BaseModel):
    """Directory groups -> desk roles, and the groups whose members are privileged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: dict[Role, list[str]] = {}
    privileged: list[str] = []

    def roles_of(self, groups: Iterable[str]) -> tuple[Role, ...]:
        held = {g.lower() for g in groups}
        return tuple(
            sorted(role for role, ids in self.roles.items() if held & {i.lower() for i in ids})
        )

    def privileged_by(self, groups: Iterable[str]) -> bool:
        return bool({g.lower() for g in groups} & {p.lower() for p in self.privileged})


class CatalogueOverlay(BaseModel):
    """The requestable groups and the software catalogue of a real directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: dict[str, OrgGroup] = {}
    software: dict[str, OrgSoftware] = {}

    def group(self, group_id: str) -> OrgGroup | None:
        wanted = group_id.lower()
        return next((g for gid, g in self.groups.items() if gid.lower() == wanted), None)


def load_roles(path: Path | None) -> RoleMap:
    """The roles file at `path` (no file: nobody holds a desk role)."""
    return RoleMap() if path is None else _load(path, RoleMap, {}, "roles file")


def load_catalogue(path: Path | None) -> CatalogueOverlay:
    """The catalogue file at `path` (no file: nothing is requestable)."""
    sections: dict[str, type[BaseModel]] = {"groups": OrgGroup, "software": OrgSoftware}
    if path is None:
        return CatalogueOverlay()
    return _load(path, CatalogueOverlay, sections, "catalogue file")


def _load(path: Path, model: type[M], sections: dict[str, type[BaseModel]], what: str) -> M:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = OrgProblem((), f"cannot read the file: {exc}")
        raise OrgFileError(source, [problem], what) from exc
    document = read_yaml(text)
    problems = list(document.problems)
    data: Any = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        problems.append(OrgProblem((), "expected a mapping"))
        raise OrgFileError(source, problems, what)
    roles = data.get("roles") if model is RoleMap else None
    for role in roles if isinstance(roles, dict) else ():
        if role not in ROLES:
            known = ", ".join(sorted(ROLES))
            problems.append(OrgProblem(("roles", str(role)), f"not a desk role ({known})"))
    try:
        parsed = model.model_validate(data) if not problems else None
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, model, sections))
        parsed = None
    problems = [p.at_line(document.line_of(p.loc)) for p in problems]
    if problems or parsed is None:
        raise OrgFileError(source, sorted(problems, key=lambda p: p.line or 0), what)
    return parsed
