"""What can be wrong with an org file, said for the IT person who wrote it: field errors from
pydantic turned into plain reasons, and the cross-references pydantic cannot see (a manager,
an owner, a group or a device that does not exist, a device claimed by two people, a manager
chain that loops)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class OrgProblem:
    """One problem: where (a path of keys and list indexes, and the line when known) and why."""

    loc: Loc
    reason: str
    line: int | None = None

    @property
    def path(self) -> str:
        """`users.alice.manager`, `users.alice.factors[1]`; empty for the whole file."""
        text = ""
        for part in self.loc:
            text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
        return text

    def at_line(self, line: int | None) -> OrgProblem:
        return self if self.line is not None or line is None else replace(self, line=line)

    def describe(self) -> str:
        line = f"line {self.line}" if self.line else ""
        where = f"{self.path} ({line})" if self.path and line else self.path or line
        return f"{where}: {self.reason}" if where else self.reason


def pydantic_problems(
    exc: ValidationError, root: type[BaseModel], sections: Mapping[str, type[BaseModel]]
) -> list[OrgProblem]:
    problems = []
    for error in exc.errors():
        loc: Loc = tuple(error["loc"])
        if loc and loc[-1] == "[key]":
            problems.append(OrgProblem(loc[:-1], "keys must be text: put the key in quotes"))
            continue
        model = root if len(loc) == 1 else sections.get(str(loc[0])) if len(loc) == 3 else None
        problems.append(OrgProblem(loc, _reason(error, model)))
    return problems


def _reason(error: Any, model: type[BaseModel] | None) -> str:
    kind, value, name = error["type"], error.get("input"), error["loc"][-1]
    if kind == "extra_forbidden":
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f"; known fields: {', '.join(known)}"
        return f"unknown field '{name}'" + (hint if known else "")
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch" and name in ("email", "recovery_email"):
        return f"not an e-mail address (got {value!r})"
    message = str(error["msg"])
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{message} (got {_short(value)})"
    return message


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def reference_problems(data: Mapping[str, Any]) -> list[OrgProblem]:
    """Every reference that points at nothing, contradicts another, or loops. Works on the
    raw document and skips values of the wrong shape (reported as field errors), so that
    references are checked even in entries that have other problems."""
    sections = {name: _section(data, name) for name in ("users", "groups", "devices")}
    users, groups, devices = sections["users"], sections["groups"], sections["devices"]
    problems: list[OrgProblem] = []
    claimed: dict[str, str] = {}
    emails: dict[str, str] = {}
    for username, user in users.items():
        at = ("users", username)
        manager = _text(user, "manager")
        if manager == username:
            problems.append(OrgProblem((*at, "manager"), "a person cannot be their own manager"))
        elif manager is not None and manager not in users:
            problems.append(OrgProblem((*at, "manager"), _missing(manager, "user")))
        for index, gid in _names(user, "groups"):
            if gid not in groups:
                problems.append(OrgProblem((*at, "groups", index), _missing(gid, "group")))
        for index, did in _names(user, "devices"):
            reason = _device_claim(username, did, devices, claimed)
            if reason:
                problems.append(OrgProblem((*at, "devices", index), reason))
        email = (_text(user, "email") or "").lower()
        if email and email in emails:
            problems.append(OrgProblem((*at, "email"), f"same address as users.{emails[email]}"))
        emails.setdefault(email, username)
    problems.extend(_manager_loops(users))
    for section, entries in (("groups", groups), ("devices", devices)):
        for key, entry in entries.items():
            owner = _text(entry, "owner")
            if owner is not None and owner not in users:
                problems.append(OrgProblem((section, key, "owner"), _missing(owner, "user")))
    return problems


def _section(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    raw = data.get(name)
    if not isinstance(raw, dict):
        return {}
    return {key: value for key, value in raw.items() if isinstance(key, str)}


def _text(entry: Any, field: str) -> str | None:
    value = entry.get(field) if isinstance(entry, dict) else None
    return value if isinstance(value, str) else None


def _names(entry: Any, field: str) -> list[tuple[int, str]]:
    values = entry.get(field) if isinstance(entry, dict) else None
    if not isinstance(values, list):
        return []
    return [(index, value) for index, value in enumerate(values) if isinstance(value, str)]


def _missing(name: str, kind: str) -> str:
    return f"'{name}' is not a {kind} in this org"


def _device_claim(
    username: str, device_id: str, devices: Mapping[str, Any], claimed: dict[str, str]
) -> str | None:
    """Why `username` listing `device_id` contradicts the file, if it does."""
    if device_id not in devices:
        return _missing(device_id, "device")
    owner = _text(devices[device_id], "owner")
    if owner is not None and owner != username:
        return f"{device_id} belongs to {owner} (devices.{device_id}.owner)"
    first = claimed.setdefault(device_id, username)
    if first != username:
        return f"{device_id} is also listed under users.{first}.devices"
    return None


def _manager_loops(users: Mapping[str, Any]) -> list[OrgProblem]:
    """Manager chains that come back to where they started (reported once per loop)."""
    problems = []
    for start in users:
        chain = [start]
        current = _text(users[start], "manager")
        while current is not None and current in users and current not in chain:
            chain.append(current)
            current = _text(users[current], "manager")
        if current == start and len(chain) > 1 and start == min(chain):
            loop = " -> ".join([*chain, start])
            problems.append(OrgProblem(("users", start, "manager"), f"manager chain loops: {loop}"))
    return problems
