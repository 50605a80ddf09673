"""The desk's own vocabulary: what comes in (Turn), what goes out (Effect), and who and what
it works on (Person, Group, Device, SoftwareItem). Adapters translate platform payloads to and
from these models; nothing past the adapters sees a platform payload."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

FactorKind = Literal["push", "sms", "email", "totp"]
Queue = Literal["access", "accounts", "software", "hardware", "network", "security", "other"]
Priority = Literal["low", "normal", "high", "urgent"]
Role = Literal["oncall", "admin", "hr", "security"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the directory's records ------------------------------------------------------------


class Person(_Frozen):
    """A person as the directory knows them."""

    username: str
    name: str
    email: str
    manager: str | None = None
    department: str = ""
    title: str = ""
    factors: tuple[FactorKind, ...] = ()
    locked: bool = False
    disabled: bool = False
    privileged: bool = False
    roles: tuple[Role, ...] = ()
    groups: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else self.username


class Group(_Frozen):
    """A directory group (security group, distribution list, shared drive)."""

    id: str
    name: str
    owner: str | None = None
    approval: Literal["owner", "manager", "none"] = "owner"
    sensitive: bool = False
    max_days: int | None = None


class Device(_Frozen):
    """A managed device."""

    id: str
    owner: str | None
    os: str
    installed: tuple[str, ...] = ()
    compliant: bool = True
    locked: bool = False


class SoftwareItem(_Frozen):
    """An application in the catalogue the desk may install."""

    id: str
    name: str
    approval: Literal["none", "manager", "security"] = "none"


# --- what a message may name -----------------------------------------------------------


class Catalog(BaseModel):
    """The names a message may mention, taken from the org's domain models."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    people: tuple[Person, ...] = ()
    groups: tuple[Group, ...] = ()
    devices: tuple[Device, ...] = ()
    software: tuple[SoftwareItem, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        people: Iterable[Person] = (),
        groups: Iterable[Group] = (),
        devices: Iterable[Device] = (),
        software: Iterable[SoftwareItem] = (),
    ) -> Catalog:
        return cls(
            people=tuple(people),
            groups=tuple(groups),
            devices=tuple(devices),
            software=tuple(software),
        )


# --- what a message was understood as ----------------------------------------------------


class Understanding(BaseModel):
    """One message understood: what the person wants, how sure we are, and the details.

    `confidence` is a calibrated probability that `intent` is right; `confident` says whether
    it clears the threshold of the understanding that produced it (below it the desk asks or
    escalates, never guesses). `slots` holds what the message names: `group`,
    `group_candidates` (comma-separated ids when a group name is ambiguous), `software`,
    `software_candidates` (the same for an app name), `software_name` (an app outside the
    catalogue), `device`, `target_user` (a username, or
    `UNKNOWN_PERSON` + the name as written when the request is about someone the org does
    not know: never the requester), `duration` (days), `app`, `credentials_exposed`.
    `alternatives` are the runner-up intents.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    intent: str
    confidence: float = Field(ge=0.0, le=1.0)
    queue: Queue | None
    slots: dict[str, str] = {}
    alternatives: list[tuple[str, float]] = []
    confident: bool = True
    source: Literal["offline", "claude"] = "offline"


# --- inbound ----------------------------------------------------------------------------


Refusal = Literal["guest", "outsider", "unverified", "deactivated"]


class TurnKind(StrEnum):
    MESSAGE = "message"  # a person typed something
    CLICK = "click"  # a person pressed a button on a card (or on their phone)
    COMMAND = "command"  # an admin slash command, "/itdesk ..."


class Turn(_Frozen):
    """One normalised inbound event: a message, a click or a command.

    `user_id` is the platform's own id for the sender; identity resolution maps it to a
    directory person. `ref` is the opaque server-side reference carried by a button: it names
    a record the desk keeps, never anything the desk trusts on its own.
    """

    platform: str
    event_id: str
    user_id: str
    user_email: str | None = None
    conversation_id: str
    kind: TurnKind = TurnKind.MESSAGE
    text: str = ""
    action: str | None = None
    ref: str | None = None
    thread: str | None = None  # the desk thread (a case id) when the turn is inside one
    received_at: datetime | None = None
    correlation_id: str | None = None
    delivery: str | None = None  # the inbox entry it came in as, when it came through one
    # Why the platform's account is not one the desk may look a person up by, when it is not:
    # a guest, someone of another organisation, an e-mail the platform has not verified, a
    # deactivated account. The person is told so politely; nothing is looked up.
    refused: Refusal | None = None


# --- outbound ---------------------------------------------------------------------------


class Button(_Frozen):
    """A button on a card. `ref` is an opaque token the desk resolves server-side."""

    label: str
    action: str
    ref: str
    style: Literal["primary", "danger", "default"] = "default"
    confirm: str | None = None  # a confirmation question for destructive actions


class CardField(_Frozen):
    label: str
    value: str


CardKind = Literal["approval", "status", "runbook", "escalation", "choice", "info", "menu"]


class Card(_Frozen):
    """A structured message: title, text, fields and buttons.

    `kind` says what the card is for (an approval request, a status card with Undo, a runbook
    answer...), `case_id` which case it belongs to and `about` whose request it concerns.
    """

    kind: CardKind = "info"
    title: str
    text: str = ""
    fields: tuple[CardField, ...] = ()
    buttons: tuple[Button, ...] = ()
    context: str | None = None
    case_id: str | None = None
    about: str | None = None


def new_message_id() -> str:
    """A fresh id for a message the desk sends (an update names it again)."""
    return "M-" + secrets.token_hex(6)


class Reply(_Frozen):
    """A message from the desk: text, optionally with a card. `id` is the desk's own message
    id; an update to the message names it again."""

    id: str
    text: str = ""
    card: Card | None = None


class Address(_Frozen):
    """Where a message goes: a person's direct conversation, or a channel (the on-call
    channel), optionally inside the thread of a case."""

    person: str | None = None
    channel: str | None = None
    thread: str | None = None
    conversation: str | None = None  # the platform conversation, when replying to a turn

    @classmethod
    def dm(cls, person: str) -> Address:
        return cls(person=person)

    @classmethod
    def case_thread(cls, channel: str, case_id: str) -> Address:
        return cls(channel=channel, thread=case_id)


class Send(_Frozen):
    kind: Literal["send"] = "send"
    to: Address
    reply: Reply


class Update(_Frozen):
    """Replace an earlier message (same `reply.id`) in place, e.g. a card after a decision."""

    kind: Literal["update"] = "update"
    to: Address
    reply: Reply


class Ephemeral(_Frozen):
    """A message only the sender of the turn sees (errors from slash commands)."""

    kind: Literal["ephemeral"] = "ephemeral"
    to: Address
    reply: Reply


Effect = Annotated[Send | Update | Ephemeral, Field(discriminator="kind")]
