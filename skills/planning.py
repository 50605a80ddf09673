"""Planning a skill for a request: what the request asks (`Ask`), what planning may read
(`Lookups`), and what a skill proposes (`Proposal`), plus the small readings several skills
share (how long, which device)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.models import Catalog, Device, Person
from bot.plans import PlanStep
from bot.ports import Devices, Directory


@dataclass(frozen=True)
class Ask:
    """A request as the desk understood it: who asks, whose account it is about (`subject`,
    a username; the requester's own unless the message names someone else), the intent, the
    details the message carries (`slots`) and the words."""

    requester: Person
    subject: str
    intent: str
    queue: str
    slots: Mapping[str, str]
    text: str


class Names(Protocol):
    """The org's names as the understanding knows them (read from the ports into a shared
    cache, refreshed in the background): for reading a name out of free text, where asking
    the directory one lookup at a time would not do."""

    async def current(self) -> Catalog: ...


@dataclass(frozen=True)
class Lookups:
    """What planning may read (it never writes): the ports, one lookup at a time, and the
    cached names."""

    directory: Directory
    devices: Devices
    names: Names


@dataclass(frozen=True)
class Proposal:
    """A skill's plan for a request: its parameters, the id of the resource policy is asked
    about, whose account it changes when that is not the ask's subject (a new joiner), and
    any steps that follow it in the same saga."""

    params: dict[str, Any]
    resource_id: str
    subject: str | None = None
    then: tuple[PlanStep, ...] = ()
    catalogued: bool = True
    credentials_exposed: bool = False
    new_person: dict[str, str] | None = None


_MOBILE_OS = frozenset({"ios", "ipados", "android"})


def of_kind(devices: list[Device], slots: Mapping[str, str]) -> list[Device]:
    """The devices that can be what the message speaks of: a phone is never the laptop,
    even when the laptop is the only device the directory has. A device named by its id
    is taken as named."""
    kind = slots.get("device_kind")
    if slots.get("device") or kind not in {"mobile", "computer"}:
        return devices
    return [x for x in devices if (x.os.lower() in _MOBILE_OS) == (kind == "mobile")]


def pick_device(named: object, devices: list[str]) -> str | None:
    """The device the message names among `devices`, or the only one."""
    if named:
        wanted = str(named).upper()
        for device in devices:
            if device.upper() == wanted:
                return device
        return None
    return devices[0] if len(devices) == 1 else None


def days_asked(duration: object, max_days: int | None) -> int | None:
    """How many days of access to grant: what was asked, capped at the group's most."""
    asked: int | None = None
    if duration is not None:
        try:
            asked = max(1, int(str(duration)))
        except ValueError:
            asked = None
    if max_days is None:
        return asked
    return min(asked, max_days) if asked else max_days
