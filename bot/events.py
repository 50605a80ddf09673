"""What can happen to a case, one pydantic model per kind of event, discriminated by `type`.

A case's events are stored (and audited) as `{"type", "data", ...}` with the model's fields
as `data`; `parse` turns a stored event back into its model, `data_of` a model into what is
stored. The desk reads events as these models, never as loose dictionaries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from bot.models import Card, Understanding
from bot.plans import Plan


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    omit_none: ClassVar[bool] = False  # leave unset optional fields out of what is stored


class Opened(_Event):
    type: Literal["opened"] = "opened"
    requester: str
    conversation: str
    platform: str = ""
    text: str = ""
    correlation_id: str | None = None
    event_id: str | None = None  # the platform's id of the message that opened it


class Understood(_Event):
    type: Literal["understood"] = "understood"
    understanding: Understanding

    @classmethod
    def of(cls, understanding: Understanding) -> Understood:
        return cls(understanding=understanding)


class Decided(_Event):
    """What policy said at a gate."""

    type: Literal["decided"] = "decided"
    omit_none: ClassVar[bool] = True
    route: str
    policies: list[str] = Field(default_factory=list)
    reason: str | None = None
    queue: str | None = None
    priority: str | None = None
    approver: str | None = None


class Refused(_Event):
    type: Literal["refused"] = "refused"
    reason: str | None = None


class Planned(_Event):
    type: Literal["planned"] = "planned"
    plan: Plan


class Asked(_Event):
    type: Literal["asked"] = "asked"
    slot: str
    options: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)


class AnsweredQuestion(_Event):
    type: Literal["answered_question"] = "answered_question"
    slot: str
    value: str


class StepUpSent(_Event):
    type: Literal["step_up.sent"] = "step_up.sent"
    factor: str
    challenge: str


class Verified(_Event):
    type: Literal["verified"] = "verified"
    human: bool = False  # the person's own check, not a human acting on the case
    factor: str | None = None
    challenge: str | None = None


class StepUpFailed(_Event):
    type: Literal["step_up.failed"] = "step_up.failed"
    failures: int


class StepUpLockedOut(_Event):
    type: Literal["step_up.locked_out"] = "step_up.locked_out"
    failures: int


class ApprovalRequested(_Event):
    type: Literal["approval.requested"] = "approval.requested"
    approval: str
    kind: str
    approvers: list[str]
    policies: list[str] = Field(default_factory=list)


class Approved(_Event):
    type: Literal["approved"] = "approved"
    approval: str
    kind: str


class Denied(_Event):
    type: Literal["denied"] = "denied"
    approval: str
    kind: str


class ApprovalExpired(_Event):
    type: Literal["approval.expired"] = "approval.expired"
    approval: str


class Executing(_Event):
    type: Literal["executing"] = "executing"
    omit_none: ClassVar[bool] = True
    event_id: str | None = None  # the turn whose work the acting is (a click, a code typed)


class ActionRecord(_Event):
    """What one executed action did and why it was allowed: the audit contract of every
    change the desk makes (`bot.scenarios.actions` reads it back)."""

    type: Literal["action.executed"] = "action.executed"
    action_id: str
    skill: str
    args: dict[str, Any]
    requested_by: str
    approved_by: list[str] = Field(default_factory=list)
    policy: list[str] = Field(default_factory=list)
    verification: dict[str, Any] | None = None
    idempotency_key: str
    changed: bool
    summary: str
    undo_of: str | None = None
    inverse: str | None = None
    inverse_params: dict[str, Any] | None = None


class Checking(_Event):
    """A write's answer was lost and the backend could not be read back yet: the person was
    told the desk is checking, and the case waits in `executing` for the read-back."""

    type: Literal["action.checking"] = "action.checking"
    skill: str
    error: str


class Resumed(_Event):
    """The desk took up a case its process had left in `executing` (a crash, a restart)."""

    type: Literal["resumed"] = "resumed"


class SagaCompensated(_Event):
    type: Literal["saga.compensated"] = "saga.compensated"
    failed_step: str
    error: str
    undone: list[str] = Field(default_factory=list)
    left: list[str] = Field(default_factory=list)


class Escalated(_Event):
    type: Literal["escalated"] = "escalated"
    queue: str
    priority: str
    ticket_id: str
    thread_message: str
    summary: str
    card: Card


class Claimed(_Event):
    type: Literal["claimed"] = "claimed"


class Relayed(_Event):
    type: Literal["relayed"] = "relayed"
    sender: Literal["tech", "requester"] = Field(alias="from")
    text: str


class Resolved(_Event):
    type: Literal["resolved"] = "resolved"


class StatusCard(_Event):
    type: Literal["status_card"] = "status_card"
    message: str
    card: Card


class RunbookSent(_Event):
    type: Literal["runbook"] = "runbook"
    title: str
    message: str
    card: Card


class JoinedOutage(_Event):
    """The case is one person's report of an open incident: they were told, and hear when
    it is fixed."""

    type: Literal["outage.joined"] = "outage.joined"
    incident: str


class AccessOverdue(_Event):
    """Time-bound access the desk has not taken away: still in place past its due time plus
    the overdue bound (`overdue`: the removal keeps being tried), or never confirmed as the
    desk's own to take away (`unconfirmed`: nothing is removed until a human decides). On call
    was told."""

    type: Literal["access.overdue"] = "access.overdue"
    omit_none: ClassVar[bool] = True
    reason: Literal["overdue", "unconfirmed"] = "overdue"
    user: str
    group: str
    due: datetime
    attempts: int
    first_failure: datetime | None = None
    last_error: str | None = None


class AccessEnded(_Event):
    """Time-bound access taken away, read back from the directory, and how late."""

    type: Literal["access.ended"] = "access.ended"
    omit_none: ClassVar[bool] = True
    user: str
    group: str
    due: datetime
    removed_at: datetime
    late_by_seconds: int
    attempts: int = 0  # removals that failed before this one
    action_id: str | None = None


class AccessStopped(_Event):
    """A human stopped the desk taking time-bound access away (the actor), and why."""

    type: Literal["access.stopped"] = "access.stopped"
    user: str
    group: str
    due: datetime
    reason: str
    attempts: int = 0


class PasswordReset(_Event):
    """The person chose a new password on the desk's reset page, with the link this case
    sent to `address` (masked). What they chose is never recorded."""

    type: Literal["password.reset"] = "password.reset"
    user: str
    address: str
    must_change: bool = False


class Feedback(_Event):
    type: Literal["feedback"] = "feedback"
    omit_none: ClassVar[bool] = True
    human: bool = False  # a tap on the desk's own question, not a human acting on the case
    helped: bool
    runbook: str | None = None


Event = Annotated[
    Opened | Understood | Decided | Refused | Planned | Asked | AnsweredQuestion | StepUpSent
    | Verified | StepUpFailed | StepUpLockedOut | ApprovalRequested | Approved | Denied
    | ApprovalExpired | Executing | ActionRecord | Checking | Resumed | SagaCompensated
    | Escalated | Claimed | Relayed | Resolved | StatusCard | RunbookSent | JoinedOutage
    | AccessOverdue | AccessEnded | AccessStopped | PasswordReset | Feedback,
    Field(discriminator="type"),
]  # fmt: skip
_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
# events whose fields are stored flat under their own names (the rest nest one model)
_NESTED = {"understood": "understanding"}


def parse(type: str, data: dict[str, Any]) -> Event:
    """The event a stored `{type, data}` is."""
    if type in _NESTED:
        data = {_NESTED[type]: data}
    return _ADAPTER.validate_python({**data, "type": type})


def data_of(event: Event) -> dict[str, Any]:
    """What is stored (and audited) of an event, beside its type."""
    if event.type in _NESTED:
        nested: dict[str, Any] = event.model_dump(mode="json")[_NESTED[event.type]]
        return nested
    return event.model_dump(mode="json", by_alias=True, exclude={"type"},
                            exclude_none=event.omit_none)  # fmt: skip


def counts_as_human(event: Event) -> bool:
    """Whether a person other than the requester acting in this event is a human touching
    the case (their own sign-in check or a feedback tap is not)."""
    return bool(getattr(event, "human", True))
