"""The fake Verify service's records: its verifications (with their codes), the texts it
sent and every exchange it had, as it arrived and was answered (`tests/servers/twilio.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Verification:
    sid: str
    to: str
    code: str
    created: datetime
    updated: datetime
    status: str = "pending"
    sends: int = 1
    checks: int = 0


@dataclass
class Exchange:
    """One call as it arrived and as it was answered."""

    method: str
    path: str
    authorization: str
    content_type: str
    body: str
    status: int
    response: dict[str, Any]


@dataclass
class TwilioState:
    verifications: dict[str, Verification] = field(default_factory=dict)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (to, body)
    exchanges: list[Exchange] = field(default_factory=list)
    stalls: dict[str, float] = field(default_factory=dict)  # by the path's last part
