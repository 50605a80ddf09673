"""The org file: a sandbox organisation (people, groups, devices, the software catalogue and
runbooks) as an IT team writes it, validated up front so a typo is reported with the file,
the field and the reason instead of surfacing later as a puzzling scenario failure."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from bot.models import Catalog, Device, FactorKind, Group, Person, Role, SoftwareItem
from bot.org_checks import OrgProblem, pydantic_problems, reference_problems
from bot.org_yaml import YamlDocument, read_yaml

__all__ = [
    "Org",
    "OrgDevice",
    "OrgFileError",
    "OrgGroup",
    "OrgProblem",
    "OrgSoftware",
    "OrgUser",
    "default_phone",
    "load_org",
    "parse_org",
]


class _Entry(BaseModel):
    # strict: `locked: "no"` or `phone: 447700900123` is a mistake to report, not to coerce
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class OrgUser(_Entry):
    """A person in the org file, keyed by directory username."""

    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    manager: str | None = None
    department: str = ""
    title: str = ""
    factors: list[FactorKind] = []
    locked: bool = False
    disabled: bool = False
    privileged: bool = False
    roles: list[Role] = []
    groups: list[str] = []
    devices: list[str] = []
    phone: str | None = Field(default=None, min_length=4)
    recovery_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")


class OrgGroup(_Entry):
    """A group in the org file, keyed by group id."""

    name: str = Field(min_length=1)
    owner: str | None = None
    approval: Literal["owner", "manager", "none"] = "owner"
    sensitive: bool = False
    max_days: PositiveInt | None = None


class OrgDevice(_Entry):
    """A managed device in the org file, keyed by device id. `installed` may name software
    outside the catalogue: people have things the desk would not install for them."""

    owner: str | None = None
    os: str = Field(min_length=1)
    installed: list[str] = []
    compliant: bool = True
    locked: bool = False


class OrgSoftware(_Entry):
    """A catalogue entry, keyed by software id."""

    name: str = Field(min_length=1)
    approval: Literal["none", "manager", "security"] = "none"


class Org(BaseModel):
    """A validated org file. Build one with `load_org` or `parse_org`, which also check that
    every reference (manager, owner, group, device) points at something that exists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    now: datetime | None = None  # the sandbox clock's start; None means the real clock
    users: dict[str, OrgUser]
    groups: dict[str, OrgGroup] = {}
    devices: dict[str, OrgDevice] = {}
    software: dict[str, OrgSoftware] = {}
    knowledge: dict[str, str] = {}

    @field_validator("now")
    @classmethod
    def _utc_when_unzoned(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    # --- contact details (never shown unmasked in chat) --------------------------------

    def phone_of(self, username: str) -> str:
        return self.users[username].phone or default_phone(username)

    def recovery_email_of(self, username: str) -> str:
        user = self.users[username]
        return user.recovery_email or user.email

    # --- the domain models the desk works with ------------------------------------------

    def device_owner(self, device_id: str) -> str | None:
        """The device's owner as written on the device, or else the user who lists it."""
        return self._device_owner(device_id, self._listed_by())

    def devices_of(self, username: str) -> list[str]:
        """The user's devices: those listed under the user, then those naming them as owner."""
        return self._devices_of(username, self._owned_by())

    # Looking each person's devices up in every device (and each device's owner in every
    # person) is quadratic: seconds for 5,000 people, four times that for 10,000. These
    # index them once for a whole list.
    def _owned_by(self) -> dict[str, list[str]]:
        owned: dict[str, list[str]] = {}
        for device_id, device in self.devices.items():
            if device.owner is not None:
                owned.setdefault(device.owner, []).append(device_id)
        return owned

    def _listed_by(self) -> dict[str, str]:
        listed: dict[str, str] = {}
        for username, user in self.users.items():
            for device_id in user.devices:
                listed.setdefault(device_id, username)  # the first user who lists it
        return listed

    def _device_owner(self, device_id: str, listed_by: dict[str, str]) -> str | None:
        owner = self.devices[device_id].owner
        return owner if owner is not None else listed_by.get(device_id)

    def _devices_of(self, username: str, owned_by: dict[str, list[str]]) -> list[str]:
        listed = list(dict.fromkeys(self.users[username].devices))
        return listed + [d for d in owned_by.get(username, ()) if d not in listed]

    def catalog(self) -> Catalog:
        """The names a message may mention, as this org file has them."""
        return Catalog.build(
            people=self.people(),
            groups=self.group_list(),
            devices=self.device_list(),
            software=self.catalogue(),
        )

    def people(self) -> list[Person]:
        owned_by = self._owned_by()
        return [
            Person(
                username=username,
                name=user.name,
                email=user.email,
                manager=user.manager,
                department=user.department,
                title=user.title,
                factors=tuple(dict.fromkeys(user.factors)),
                locked=user.locked,
                disabled=user.disabled,
                privileged=user.privileged,
                roles=tuple(dict.fromkeys(user.roles)),
                groups=tuple(dict.fromkeys(user.groups)),
                devices=tuple(self._devices_of(username, owned_by)),
            )
            for username, user in self.users.items()
        ]

    def group_list(self) -> list[Group]:
        return [Group(id=gid, **group.model_dump()) for gid, group in self.groups.items()]

    def device_list(self) -> list[Device]:
        listed_by = self._listed_by()
        return [
            Device(
                id=did,
                owner=self._device_owner(did, listed_by),
                os=device.os,
                installed=tuple(dict.fromkeys(device.installed)),
                compliant=device.compliant,
                locked=device.locked,
            )
            for did, device in self.devices.items()
        ]

    def catalogue(self) -> list[SoftwareItem]:
        return [SoftwareItem(id=sid, **item.model_dump()) for sid, item in self.software.items()]


def default_phone(username: str) -> str:
    """A stable made-up mobile number for a user whose org entry gives none (in the range
    Ofcom keeps for drama, so it can never reach a real phone)."""
    digest = int(hashlib.sha256(username.encode()).hexdigest(), 16)
    return f"+44 7700 900{digest % 1000:03d}"


class OrgFileError(Exception):
    """An org file that cannot be used. The message names the file and lists every problem
    (dotted field path, line when known, reason); `problems` holds them as data."""

    def __init__(self, source: str, problems: list[OrgProblem], what: str = "org file") -> None:
        self.source = source
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        lines = "\n".join(f"  {problem.describe()}" for problem in problems)
        super().__init__(f"{source}: invalid {what}, {count}:\n{lines}")


def load_org(path: Path) -> Org:
    """Read and validate an org file; raise `OrgFileError` listing every problem at once."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OrgFileError(source, [OrgProblem((), f"cannot read the file: {exc}")]) from exc
    document = read_yaml(text)
    return _validate(document.data, source, document)


def parse_org(data: Any, source: str) -> Org:
    """Validate an already-parsed org document (`source` names it in error messages)."""
    return _validate(data, source, None)


_MODELS: dict[str, type[BaseModel]] = {
    "users": OrgUser,
    "groups": OrgGroup,
    "devices": OrgDevice,
    "software": OrgSoftware,
}


def _validate(data: Any, source: str, document: YamlDocument | None) -> Org:
    problems = list(document.problems) if document else []
    if not isinstance(data, dict):
        if not problems:  # a syntax error already says why there is no mapping
            problems.append(OrgProblem((), "expected a mapping with name, domain and users"))
        raise OrgFileError(source, problems)
    org: Org | None = None
    try:
        org = Org.model_validate(data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, Org, _MODELS))
    problems.extend(reference_problems(data))
    if document:
        problems = sorted(
            (p.at_line(document.line_of(p.loc)) for p in problems), key=lambda p: p.line or 0
        )
    if problems or org is None:
        raise OrgFileError(source, problems)
    return org
