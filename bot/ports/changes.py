"""What a backend changed, as its own record says (for `itdesk audit reconcile`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

ChangeOp = Literal[
    "add_member", "remove_member", "set_locked", "set_disabled", "reset_factors",
    "revoke_sessions", "send_reset_link", "send_enrolment_link", "create_person",
    "set_password", "install", "uninstall", "lock",
]  # fmt: skip


class BackendChange(BaseModel):
    """One change a backend made to its state, as its own log shows it (the sandbox's change
    log; Okta's system log, Graph's audit logs or Intune's audit events for real ones): what
    `itdesk audit reconcile` compares with the desk's audit trail. `value` is the state a
    `set_locked` or `set_disabled` set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    at: datetime
    source: str  # which backend: "directory", "devices"
    op: ChangeOp
    user: str | None = None
    group: str | None = None
    device: str | None = None
    software: str | None = None
    value: bool | None = None

    def target(self) -> tuple[str, tuple[tuple[str, str | bool], ...]]:
        """What was changed, comparable with what an audit record says it changed."""
        fields = self.model_dump(include={"user", "group", "device", "software", "value"})
        return self.op, tuple(sorted((k, v) for k, v in fields.items() if v is not None))


class ChangeLog(Protocol):
    """A backend's log of the changes it made. A write that changed nothing is not in it."""

    async def changes(self, since: datetime, until: datetime) -> list[BackendChange]:
        """The changes made from `since` to `until` (both included), oldest first."""
        ...
