"""The ports the desk and its skills talk through. The sandbox implements every one of them
against an org file with its state in Redis; real backends (LDAP, Okta, Graph, Intune,
ServiceNow) implement the same protocols."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.models import Device, FactorKind, Group, Person, Priority, Queue, SoftwareItem

TicketStatus = Literal["open", "in_progress", "resolved", "closed"]


class NotFoundError(LookupError):
    """An operation named a record the backend does not have (a person, group, device, ticket
    or outbox item). A desk bug or a stale reference, never the user's fault."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} {key!r}")
        self.kind = kind
        self.key = key


class ConflictError(Exception):
    """A create that collides with a different existing record (same username or e-mail)."""


class OutcomeUnknown(Exception):
    """A write was sent and its answer was lost (a timeout, a dropped connection): it may or
    may not have taken effect. A backend raises it (or lets `TimeoutError` / `ConnectionError`
    through) instead of guessing; the desk reads the state back before it says either."""


class Unsupported(Exception):
    """The backend cannot do this at all: an identity provider that does not report open
    sessions, a directory whose groups are synced from elsewhere, a check provider without
    push. Retrying will not help and it is nobody's fault: the skill words it honestly, or
    the desk hands the work to a human. `capability` names what is missing, one of the
    names in `CAPABILITIES`."""

    def __init__(self, capability: str, detail: str = "") -> None:
        why = f": {detail}" if detail else ""
        super().__init__(f"the backend does not support {capability}{why}")
        self.capability = capability
        self.detail = detail


# What a backend may lack, by port: the names `Unsupported` carries and the methods that
# raise it are documented on each port method.
DIRECTORY_CAPABILITIES = frozenset({
    "session_count", "revoke_sessions", "unlock", "lock", "disable", "enable",
    "group_membership", "reset_factors", "create_person", "reset_link", "enrolment_link",
    "set_password",
})  # fmt: skip
DEVICE_CAPABILITIES = frozenset({"install", "uninstall", "device_lock"})
CHECK_CAPABILITIES = frozenset({"push", "sms", "email", "totp", "withdraw"})
CAPABILITIES = DIRECTORY_CAPABILITIES | DEVICE_CAPABILITIES | CHECK_CAPABILITIES


class Ticket(BaseModel):
    """A ticket in the IT team's queue."""

    model_config = ConfigDict(extra="forbid")

    id: str
    key: str | None = None
    case_id: str | None = None
    requester: str
    queue: Queue
    priority: Priority = "normal"
    status: TicketStatus = "open"
    assignee: str | None = None
    summary: str
    details: str = ""
    created_at: datetime
    updated_at: datetime


class TicketNote(BaseModel):
    """One entry in a ticket's history: a note and/or the fields an update changed."""

    model_config = ConfigDict(extra="forbid")

    at: datetime
    text: str = ""
    changes: dict[str, str] = {}


class NewTicket(BaseModel):
    """A ticket to open. `key` is the opener's id for it (the escalation it records):
    opening the same ticket under a key again returns the first one, so a retried
    escalation does not open a second ticket."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, min_length=1, max_length=200)
    case_id: str | None = None
    requester: str
    queue: Queue
    priority: Priority = "normal"
    summary: str
    details: str = ""


OutboxKind = Literal["code", "push", "reset_link", "enrolment_link", "notification"]
OutboxStatus = Literal["pending", "approved", "denied", "used", "expired", "withdrawn", "delivered"]


class OutboxItem(BaseModel):
    """Something sent out of band to a person: a one-time code, a push to approve, a reset or
    enrolment link, or a notification. `secret` is the minted value (code, token); it reaches
    the person's phone or mailbox only and never a chat message."""

    model_config = ConfigDict(extra="forbid")

    id: str
    to: str  # username
    channel: FactorKind | Literal["email_all"]
    address: str  # the masked destination, e.g. "+44 •••• ••12" or "a•••@globex.test"
    kind: OutboxKind
    text: str
    secret: str | None = None
    ref: str | None = None  # the check a push or code belongs to (`Checks`)
    status: OutboxStatus = "delivered"
    created_at: datetime
    expires_at: datetime | None = None


class ContactPoints(BaseModel):
    """Where a person can be reached out of band, as the directory records it (never an
    address typed in chat): the primary mailbox (often behind the very account that is
    locked), a secondary address, a mobile number."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str
    secondary_email: str | None = None
    mobile: str | None = None


class Contacts(Protocol):
    """The addresses on record of each person, for the providers that deliver codes, links
    and change notices."""

    async def contact_points(self, username: str) -> ContactPoints | None:
        """The person's addresses on record; None for a person the directory does not have."""
        ...


class LinkSent(BaseModel):
    """A reset or enrolment link the directory sent: where it went, masked for chat. The
    link itself (its token) never leaves the directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str


class Directory(Protocol):
    """People, groups, factors and account state.

    The desk's turns use the lookups (`person`, `person_by_email`, `people_with_role`,
    `reports_of`, `group`); `people` and `groups` read the whole directory and are for
    catalogue refreshes only (the understanding's vocabulary, the web chat's picker)."""

    async def person(self, username: str) -> Person | None: ...
    async def person_by_email(self, email: str) -> Person | None:
        """The person with this e-mail address (case and surrounding blanks ignored)."""
        ...

    async def person_by_cloud_id(self, object_id: str) -> Person | None:
        """The person whose cloud identity the directory records: the Entra object id Teams
        gives as `aadObjectId` (AD synced by Entra Connect keeps it, written back, in
        `msDS-ExternalDirectoryObjectId`). None where the directory records none: then the
        person is found by their UPN or e-mail."""
        ...

    async def people_with_role(self, role: str) -> list[Person]:
        """Everyone holding one of the desk's roles (`bot.models.Role`), disabled accounts
        included, ordered by username. An unknown role name is a `ValueError`."""
        ...

    async def reports_of(self, manager: str) -> list[Person]:
        """The people whose manager is `manager`, ordered by username; nobody for an
        unknown username."""
        ...

    async def people(self) -> list[Person]:
        """Everyone, ordered by username: a full read, for catalogue refreshes only."""
        ...

    async def group(self, group_id: str) -> Group | None: ...
    async def groups(self) -> list[Group]:
        """Every group, ordered by id: a full read, for catalogue refreshes only."""
        ...

    # Every write below raises `NotFoundError` for a person (or group) the directory does
    # not have, and `Unsupported` with the capability named when the backend cannot do it.

    async def set_locked(self, username: str, locked: bool) -> None:
        """Lock or unlock the account. `Unsupported("unlock")` / `Unsupported("lock")`."""
        ...

    async def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable or enable the account. `Unsupported("disable")` / `Unsupported("enable")`."""
        ...

    async def add_member(self, username: str, group_id: str) -> None:
        """Add to the group (a member already stays as they are). `Unsupported(
        "group_membership")` for a group the backend cannot change (synced from elsewhere)."""
        ...

    async def remove_member(self, username: str, group_id: str) -> None:
        """Remove from the group (nothing changes for a non-member); as `add_member`."""
        ...

    async def revoke_sessions(self, username: str) -> int | None:
        """End every open sign-in session: how many there were, or None when the backend
        cannot count them (it lacks `session_count`). `Unsupported("revoke_sessions")`."""
        ...

    async def sessions(self, username: str) -> int:
        """How many sign-in sessions the person has open now. `Unsupported("session_count")`."""
        ...

    async def reset_factors(self, username: str) -> None:
        """Forget every registered sign-in factor. `Unsupported("reset_factors")`."""
        ...

    async def create_person(self, person: Person) -> None:
        """Create the account. The same person again is a no-op; another person under a taken
        username or e-mail is a `ConflictError`; an unknown manager or group `NotFoundError`.
        `Unsupported("create_person")` where accounts come from an HR system."""
        ...

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        """Where a check on this factor goes, masked for chat ("+44 •••• ••12")."""
        ...

    async def recovery_address(self, username: str) -> str | None:
        """Where a reset or enrolment link goes, masked for chat."""
        ...

    async def send_reset_link(self, username: str, *, key: str | None = None) -> LinkSent:
        """Mint a password reset token and send the link to the recovery address. `key` names
        the request: a backend that can de-duplicate sends one link per key (a retry after a
        lost answer gets the first link's `LinkSent`), one that cannot sends another.
        `NotFoundError` for an unknown person, `Unsupported("reset_link")`."""
        ...

    async def send_enrolment_link(self, username: str, *, key: str | None = None) -> LinkSent:
        """Send a link to register a new sign-in factor (after an MFA reset) to the recovery
        e-mail; `key` as above. `Unsupported("enrolment_link")`."""
        ...

    async def set_password(self, username: str, password: str, *, must_change: bool) -> None:
        """Set the person's password, as they chose it on a reset page (the desk's own, for a
        directory that cannot send reset links: `bot.reset_links`); with `must_change` it must
        be changed at the next sign-in. A password the directory's policy refuses (too short,
        too like the old one) is a `ValueError` whose message is the server's plain reason,
        shown to the person as it is, so it never holds the password.
        `Unsupported("set_password")` where the desk may not set passwords."""
        ...


class Devices(Protocol):
    """Managed devices and the software catalogue."""

    async def device(self, device_id: str) -> Device | None: ...
    async def devices_of(self, username: str) -> list[Device]:
        """The devices the person owns, ordered by id."""
        ...

    async def software(self, software_id: str) -> SoftwareItem | None:
        """One catalogue item, or None when the catalogue has no such id."""
        ...

    # The writes raise `NotFoundError` for a device (or catalogue item) the backend does not
    # have, and `Unsupported` with the capability named when it cannot do it.

    async def install(self, device_id: str, software_id: str) -> None:
        """Install a catalogue item (installed already: no change). `Unsupported("install")`."""
        ...

    async def uninstall(self, device_id: str, software_id: str) -> None:
        """Remove an application (not installed: no change). `Unsupported("uninstall")`."""
        ...

    async def lock(self, device_id: str) -> None:
        """Lock the device remotely. `Unsupported("device_lock")`."""
        ...

    async def catalogue(self) -> list[SoftwareItem]:
        """The whole catalogue, ordered by id: for catalogue refreshes only."""
        ...

    async def devices(self) -> list[Device]:
        """Every managed device, ordered by id: for catalogue refreshes only."""
        ...


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


class Tickets(Protocol):
    """The IT team's ticket queue. `update` and `notes` raise `NotFoundError` for a ticket
    the queue does not have; the lists are in the order the tickets were opened."""

    async def open(self, ticket: NewTicket) -> Ticket:
        """Open a ticket. With a `key` already used: the ticket opened under it when it is
        the same ticket, else `ConflictError`."""
        ...

    async def get(self, ticket_id: str) -> Ticket | None: ...
    async def update(
        self,
        ticket_id: str,
        *,
        status: TicketStatus | None = None,
        assignee: str | None = None,
        priority: Priority | None = None,
        note: str | None = None,
    ) -> Ticket: ...
    async def of_requester(self, username: str) -> list[Ticket]: ...
    async def in_queue(self, queue: Queue) -> list[Ticket]: ...
    async def notes(self, ticket_id: str) -> list[TicketNote]: ...


class Outbox(Protocol):
    """Delivery of the notices the desk itself sends out of band (a change to someone's
    account, told at every address they have). Links are the directory's to send, and
    sign-in checks go through `Checks`."""

    async def deliver(self, item: OutboxItem) -> OutboxItem:
        """Send the item; delivering the same id again changes nothing."""
        ...


# --- out-of-band checks ---------------------------------------------------------------------

CheckStatus = Literal["pending", "approved", "denied", "expired", "withdrawn"]
Verifier = Literal["desk", "provider"]


class CheckRequest(BaseModel):
    """A check the desk asks a provider to issue on one of the person's registered factors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1)  # the desk's id for it: the same key again is the same check
    username: str
    factor: FactorKind
    # What the person is shown, where the provider lets the desk word it (Okta Verify and
    # Twilio Verify templates use their own); "{code}" marks where a code goes, and a code
    # check's message without it is a `ValueError`.
    message: str
    # A one-time code the desk minted, for a provider that delivers the desk's code (SMS or
    # e-mail it sends as it is told); the desk then checks the answer against the salted
    # digest it keeps. A provider that mints and checks its own codes (Twilio Verify, an
    # authenticator app) leaves it unused and says so in `IssuedCheck.verifier`. None for a
    # push, or to ask the provider for its own code.
    code: str | None = None
    expires_at: datetime


class IssuedCheck(BaseModel):
    """A check as the provider issued it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # the provider's id (an Okta transaction, a Duo txid, a Twilio verification)
    kind: Literal["push", "code"]
    # Who judges the answer: the provider (a push, or a code it minted: `Checks.verify_code`)
    # or the desk (the code it offered in the request).
    verifier: Verifier
    address: str  # where it went, masked for chat
    expires_at: datetime  # the provider's own limit when it is sooner than the request's


class CheckState(BaseModel):
    """What the provider knows of a check now. A push is `pending` until answered
    (`approved` / `denied`), `expired` or `withdrawn`; a code the provider checks becomes
    `approved` on the right code and may become `denied` after too many wrong ones; a code
    the desk checks stays `pending` at the provider (it only delivered it) until it expires
    or is withdrawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: CheckStatus
    at: datetime | None = None  # when it left `pending`


class Checks(Protocol):
    """Out-of-band checks on registered factors: a push to approve (Okta Verify, Duo), a code
    the provider sends and checks (Twilio Verify, an authenticator app), or a code the desk
    minted that the provider delivers (SMS, e-mail). The desk learns a push's answer by
    reading `result`, never from what a chat turn claims. Every method but `issue` raises
    `NotFoundError` for a check id the provider does not know."""

    async def issue(self, request: CheckRequest) -> IssuedCheck:
        """Send the check. `Unsupported(<factor>)` when the provider cannot reach that kind of
        factor (no push), `NotFoundError` when the person has no such factor registered."""
        ...

    async def result(self, check_id: str) -> CheckState: ...

    async def verify_code(self, check_id: str, code: str) -> bool:
        """Check a code the person typed, for a check whose `verifier` is the provider: True
        for the right code while the check is open (it becomes `approved`). A `ValueError`
        for a check the desk verifies itself."""
        ...

    async def withdraw(self, check_id: str) -> None:
        """The desk takes no answer to it any more (superseded, failed, the case moved on);
        a closed check stays as it is. `Unsupported("withdraw")` where a provider cannot."""
        ...
