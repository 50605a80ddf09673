"""What understanding a message produces (`Understanding`), the intents and their queues as
spec/intents.md fixes them, and the org's `Catalog`: the names (people, groups, devices,
software) a message may mention, as the directory and the software catalogue know them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict, Field

from bot.models import Device, Group, Person, SoftwareItem
from bot.ports import Queue

if TYPE_CHECKING:
    from bot.org import Org

__all__ = [
    "DEFAULT_THRESHOLD",
    "INTENTS",
    "INTENT_DESCRIPTIONS",
    "QUEUE_OF",
    "UNKNOWN_PERSON",
    "Catalog",
    "Intent",
    "Understander",
    "Understanding",
]

Intent = Literal[
    "account_unlock",
    "password_reset",
    "mfa_reset",
    "access_request",
    "access_removal",
    "software_install",
    "software_issue",
    "email_issue",
    "vpn_issue",
    "wifi_issue",
    "printer_issue",
    "hardware_issue",
    "device_lost",
    "security_incident",
    "onboarding",
    "offboarding",
    "ticket_status",
    "other",
    "not_it",
]

INTENTS: tuple[Intent, ...] = get_args(Intent)

# Below this confidence the desk asks or escalates instead of acting on a guess.
DEFAULT_THRESHOLD = 0.55

# `target_user` of a request about someone the directory does not know: "unknown:dan".
UNKNOWN_PERSON = "unknown:"

INTENT_DESCRIPTIONS: dict[Intent, str] = {
    "account_unlock": "their own account is locked out",
    "password_reset": "forgot, expired or wants to change their password",
    "mfa_reset": "new or lost phone, authenticator/MFA prompts broken, re-enrol a factor",
    "access_request": "to be added to a group, list, shared folder or drive, or access to an app",
    "access_removal": "to be removed from a group or list, or an access taken away",
    "software_install": "an application installed, or a licence for one",
    "software_issue": "an application misbehaves (not mail, not VPN)",
    "email_issue": "mail, calendar, Outlook/Exchange, mailbox, mail on the phone",
    "vpn_issue": "VPN will not connect, drops, is slow",
    "wifi_issue": "Wi-Fi, wired network, internet connectivity (not VPN)",
    "printer_issue": "printing, scanning, printer setup",
    "hardware_issue": "a device or peripheral is broken, slow, or needed",
    "device_lost": "a device is lost or stolen",
    "security_incident": "phishing, malware, suspicious login or message, compromise, leak",
    "onboarding": "set up a new joiner",
    "offboarding": "a leaver: disable an account, remove access",
    "ticket_status": "the status of an earlier request or ticket",
    "other": "an IT matter none of the above covers",
    "not_it": "not an IT matter at all",
}

QUEUE_OF: dict[Intent, Queue | None] = {
    "account_unlock": "accounts",
    "password_reset": "accounts",
    "mfa_reset": "accounts",
    "access_request": "access",
    "access_removal": "access",
    "software_install": "software",
    "software_issue": "software",
    "email_issue": "software",
    "vpn_issue": "network",
    "wifi_issue": "network",
    "printer_issue": "hardware",
    "hardware_issue": "hardware",
    "device_lost": "security",
    "security_incident": "security",
    "onboarding": "accounts",
    "offboarding": "accounts",
    "ticket_status": "other",
    "other": "other",
    "not_it": None,  # the spec's queue "none": no case is opened
}


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

    intent: Intent
    confidence: float = Field(ge=0.0, le=1.0)
    queue: Queue | None
    slots: dict[str, str] = {}
    alternatives: list[tuple[Intent, float]] = []
    confident: bool = True
    source: Literal["offline", "claude"] = "offline"


class Understander(Protocol):
    """Turns a message into an intent, slots and a confidence (offline model or Claude)."""

    async def understand(self, text: str, *, requester: Person) -> Understanding: ...


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

    @classmethod
    def from_org(cls, org: Org) -> Catalog:
        """The catalogue of a loaded org file."""
        return cls.build(
            people=org.people(),
            groups=org.group_list(),
            devices=org.device_list(),
            software=org.catalogue(),
        )
