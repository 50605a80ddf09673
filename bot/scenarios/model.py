"""The scenario file: its schema, read strictly.

A file that cannot be run as written is invalid, and every problem is reported at once with
the file, the field (and line) and what is wrong: unknown top-level keys, unknown users,
unknown step kinds, bad durations, a missing or broken org file, expectations that name
statuses, queues, users or org fields that do not exist."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.cases import CaseStatus
from bot.models import Device, Group, Person, Priority, Queue
from bot.org import Org, OrgFileError, load_org
from bot.org_yaml import read_yaml
from bot.scenarios.steps import Say, Step, StepError, parse_step


@dataclass(frozen=True)
class Problem:
    """One reason a scenario file cannot be run."""

    file: Path
    field: str
    message: str
    line: int | None = None

    def describe(self) -> str:
        where = self.field or "(file)"
        if self.line:
            where += f" (line {self.line})"
        return f"{self.file}: {where}: {self.message}"


class ScenarioFileError(Exception):
    """One or more scenario files are invalid; nothing should run."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(p.describe() for p in self.problems))


class ExpectedAction(BaseModel):
    """An action the scenario expects: the skill and the arguments to compare (only the keys
    given are compared)."""

    model_config = ConfigDict(frozen=True)

    skill: str
    args: dict[str, Any] = Field(default_factory=dict)

    def describe(self) -> str:
        return describe_action(self.skill, self.args)


class ExpectedTicket(BaseModel):
    """The queue and priority the first requester's case's ticket must have."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: Queue | None = None
    priority: Priority | None = None


class Expect(BaseModel):
    """What must hold after the last step; everything is optional except that omitted
    `actions` means the desk must execute none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: list[CaseStatus] | None = None  # one status, or a list of acceptable ones
    actions: list[dict[str, dict[str, Any]]] = Field(default_factory=list)
    org: dict[str, dict[str, dict[str, Any]]] | None = None
    ticket: ExpectedTicket | None = None
    notified: list[str] = Field(default_factory=list)

    @field_validator("outcome", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("actions", mode="before")
    @classmethod
    def _no_args_is_empty_args(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [
            {k: ({} if v is None else v) for k, v in entry.items()}
            if isinstance(entry, dict)
            else entry
            for entry in value
        ]

    @property
    def expected_actions(self) -> list[ExpectedAction]:
        return [
            ExpectedAction(skill=skill, args=args)
            for entry in self.actions
            for skill, args in entry.items()
        ]


class _ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    org: str = Field(min_length=1)
    about: str = ""
    steps: list[Any] = Field(min_length=1)
    expect: Expect = Field(default_factory=Expect)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, its org loaded."""

    id: str
    file: Path
    org_file: Path
    org: Org
    about: str
    steps: tuple[Step, ...]
    expect: Expect

    @property
    def first_requester(self) -> str | None:
        """The first person who sends the desk a message that is not a slash command."""
        return next((s.user for s in self.steps if isinstance(s, Say)), None)


_SKILL = re.compile(r"^[a-z][a-z0-9_]*$")
_ORG_FIELDS: dict[str, frozenset[str]] = {
    "users": frozenset(Person.model_fields) - {"username"},
    "groups": frozenset(Group.model_fields) - {"id"},
    "devices": frozenset(Device.model_fields) - {"id"},
}


def describe_action(skill: str, args: dict[str, Any]) -> str:
    inner = ", ".join(f"{k}: {v}" for k, v in args.items())
    return f"{skill} {{{inner}}}"


def load_scenario(path: Path, orgs: dict[Path, Org] | None = None) -> Scenario:
    """Read and validate one scenario file (orgs already loaded may be passed in `orgs`);
    raise `ScenarioFileError` listing every problem."""
    orgs = {} if orgs is None else orgs
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioFileError([Problem(path, "", f"cannot read the file: {exc}")]) from exc
    document = read_yaml(text)
    problems = [Problem(path, p.path, p.reason, p.line) for p in document.problems]
    if problems:
        raise ScenarioFileError(problems)
    data = document.data
    if not isinstance(data, dict):
        raise ScenarioFileError([Problem(path, "", "expected a mapping with id, org, steps")])
    try:
        raw = _ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioFileError(
            [
                Problem(path, _loc(err["loc"]), _message(err), document.line_of(tuple(err["loc"])))
                for err in exc.errors()
            ]
        ) from None
    org_file = (path.parent / raw.org).resolve()
    org = orgs.get(org_file)
    if org is None:
        org = _load_org(path, org_file, raw.org, document.line_of(("org",)))
        orgs[org_file] = org
    steps: list[Step] = []
    for index, entry in enumerate(raw.steps):
        try:
            steps.append(parse_step(entry, index + 1, org.users))
        except StepError as exc:
            loc: tuple[str | int, ...] = ("steps", index, *([exc.field] if exc.field else []))
            problems.append(Problem(path, _loc(loc), exc.message, document.line_of(loc)))
    if steps and not any(isinstance(step, Say) for step in steps):
        for name in ("outcome", "ticket"):
            if getattr(raw.expect, name) is not None:
                problems.append(
                    Problem(
                        path,
                        f"expect.{name}",
                        "no step sends the desk a message, so there is no requester's case",
                    )
                )
    for loc, message in _expect_problems(raw.expect, org):
        problems.append(Problem(path, _loc(loc), message, document.line_of(loc)))
    if problems:
        raise ScenarioFileError(problems)
    return Scenario(raw.id, path, org_file, org, raw.about, tuple(steps), raw.expect)


def _load_org(path: Path, org_file: Path, written: str, line: int | None) -> Org:
    if not org_file.is_file():
        raise ScenarioFileError(
            [Problem(path, "org", f"no org file at {written} (looked for {org_file})", line)]
        )
    try:
        return load_org(org_file)
    except OrgFileError as exc:
        details = "; ".join(p.describe() for p in exc.problems)
        raise ScenarioFileError(
            [Problem(path, "org", f"{written} is invalid: {details}", line)]
        ) from None


def _expect_problems(expect: Expect, org: Org) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if expect.outcome is not None and not expect.outcome:
        problems.append((("expect", "outcome"), "an empty list of outcomes can never hold"))
    for index, entry in enumerate(expect.actions):
        if len(entry) != 1:
            problems.append(
                (
                    ("expect", "actions", index),
                    "an action is a one-key mapping, `skill: {arg: value}`",
                )
            )
        for skill in entry:
            if not _SKILL.match(skill):
                problems.append(
                    (
                        ("expect", "actions", index, skill),
                        f"'{skill}' is not a skill name (snake_case)",
                    )
                )
    for index, user in enumerate(expect.notified):
        if user not in org.users:
            problems.append((("expect", "notified", index), f"unknown user '{user}'"))
    for section, entries in (expect.org or {}).items():
        known = _ORG_FIELDS.get(section)
        if known is None:
            problems.append(
                (
                    ("expect", "org", section),
                    f"unknown section '{section}': expected {', '.join(_ORG_FIELDS)}",
                )
            )
            continue
        for key, fields in entries.items():
            for name in fields:
                if name not in known:
                    problems.append(
                        (
                            ("expect", "org", section, key, name),
                            f"unknown field '{name}': expected one of {', '.join(sorted(known))}",
                        )
                    )
    return problems


def _loc(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    value = err.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float | bool) else ""
    return f"{err['msg']}{shown}"


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """The scenario files named by `paths`: a file as given, a folder's `*.yaml` recursively
    except under folders named `orgs`. Each file once, in a stable order."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_file():
            found = [path]
        elif path.is_dir():
            found = sorted(
                f
                for f in path.rglob("*.yaml")
                if f.is_file() and "orgs" not in f.relative_to(path).parts[:-1]
            )
            if not found:
                problems.append(Problem(path, "", "no scenario files (*.yaml) in this folder"))
        else:
            problems.append(Problem(path, "", "no such file or folder"))
            continue
        files.extend(f for f in found if f.resolve() not in {g.resolve() for g in files})
    return files, problems


def load_suite(paths: Sequence[Path]) -> list[Scenario]:
    """Every scenario named by `paths`, validated before any runs; raise
    `ScenarioFileError` with every problem of every file (duplicate ids included)."""
    files, problems = discover(paths)
    orgs: dict[Path, Org] = {}
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for file in files:
        try:
            scenario = load_scenario(file, orgs)
        except ScenarioFileError as exc:
            problems.extend(exc.problems)
            continue
        if scenario.id in seen:
            problems.append(
                Problem(
                    file,
                    "id",
                    f"'{scenario.id}' is also the id of "
                    f"{seen[scenario.id]}: ids must be unique in a suite",
                )
            )
        seen.setdefault(scenario.id, file)
        scenarios.append(scenario)
    if problems:
        raise ScenarioFileError(problems)
    return scenarios
