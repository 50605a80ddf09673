"""The fake Duo's records: users' devices as Duo shows them, the pushes it sent and their
answers, and the calls it took (`tests/servers/duo.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

UserStatus = Literal["auth", "allow", "deny", "enroll"]


@dataclass
class DuoDevice:
    id: str
    number: str = ""
    name: str = ""
    capabilities: tuple[str, ...] = ("auto", "push", "sms", "phone", "mobile_otp")

    def dump(self) -> dict[str, Any]:
        number = duo_masked(self.number)
        return {"device": self.id, "type": "phone" if number else "tablet", "number": number,
                "name": self.name,
                "display_name": f"{self.name or 'Phone'} ({number})" if number else self.name,
                "capabilities": list(self.capabilities)}  # fmt: skip


def duo_masked(number: str) -> str:
    """A number as Duo shows it: all but its last four digits as X, a country code written
    apart kept ("+44 7700 900123" -> "+44 XXXX XX0123")."""
    head, sep, rest = number.partition(" ")
    if not (head.startswith("+") and sep):
        head, sep, rest = "", "", number
    hidden = sum(c.isdigit() for c in rest) - 4
    out = []
    for c in rest:
        if c.isdigit():
            out.append("X" if hidden > 0 else c)
            hidden -= 1
        else:
            out.append(c)
    return head + sep + "".join(out)


@dataclass
class Push:
    txid: str
    username: str
    device: str
    created: datetime
    type: str
    pushinfo: dict[str, str]
    result: str = "waiting"  # waiting | allow | deny
    status: str = "pushed"  # pushed | allow | deny | fraud | timeout | bypass
    seen: str | None = None  # the status the last poll was told


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]


@dataclass
class DuoState:
    users: dict[str, tuple[UserStatus, list[DuoDevice]]] = field(default_factory=dict)
    pushes: dict[str, Push] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    stalls: dict[str, float] = field(default_factory=dict)
    failures: dict[str, tuple[int, int, str]] = field(default_factory=dict)
