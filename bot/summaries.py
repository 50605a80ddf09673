"""Escalation summaries: the line an on-call technician reads first, and a suggested next step.

Templated by default (deterministic, no network); worded by Claude when a key is configured,
under the understanding's rules: the request is redacted before it is sent, the answer is
validated, and on any failure, timeout or doubt the template answers. Either way the quoted
words of the requester pass through the same redaction, so a code or a password a person
typed never reaches the on-call channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.models import Person
from bot.understanding.claude import ToolRequest, load_prompt, redact_for_model
from bot.understanding.model import IntentCatalog, default_intents

if TYPE_CHECKING:
    from bot.understanding.claude import Claude

__all__ = ["Summaries", "templated"]

SUMMARY_TOOL = "escalation_summary"
_QUOTE_LIMIT = 120
_ONE_LINE = r"^[^\n\r]*$"
# Requests the headline alone says little about: the person's words say more.
_QUOTED_INTENTS = frozenset(
    {"software_issue", "hardware_issue", "email_issue", "security_incident", "other"}
)


class SummaryProposal(BaseModel):
    """Claude's wording, accepted only as two single sentences without links."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: str = Field(min_length=10, max_length=240, pattern=_ONE_LINE)
    next_step: str = Field(min_length=10, max_length=240, pattern=_ONE_LINE)

    @classmethod
    def parse(cls, data: Mapping[str, object]) -> SummaryProposal | None:
        try:
            proposal = cls.model_validate(data, strict=True)
        except ValidationError:
            return None
        if any("://" in text or "www." in text for text in (proposal.summary, proposal.next_step)):
            return None
        return proposal


def summary_tool() -> dict[str, Any]:
    """The `escalation_summary` tool, its schema generated from `SummaryProposal`."""
    return {
        "name": SUMMARY_TOOL,
        "description": "The escalation note: what the person needs, and the next step.",
        "input_schema": SummaryProposal.model_json_schema(),
    }


class Summaries:
    """Writes escalation summaries, with Claude when given a client, else from templates."""

    def __init__(
        self,
        claude: Claude | None = None,
        *,
        intents: IntentCatalog | None = None,
        prompts: Path | None = None,
    ) -> None:
        self.claude = claude
        self.intents = intents or default_intents()
        self._system = (load_prompt("summary.system.md", prompts),)
        self._tools = (summary_tool(),)

    def request(
        self,
        case_text: str,
        intent: str,
        checked: Sequence[str],
        *,
        slots: Mapping[str, str] | None = None,
        confident: bool = True,
    ) -> ToolRequest:
        """What is sent for one case: no names, the request redacted, what the desk checked."""
        about = self.intents.spec(intent).description if intent in self.intents else ""
        lines = [
            f"Intent: {intent}{f' ({about})' if about else ''}"
            + ("" if confident else " (the desk was unsure of this)"),
            *(f"Detail: {k} = {v}" for k, v in sorted((slots or {}).items()) if k in _DETAILS),
            *(f"The desk checked: {redact_for_model(c)}" for c in checked),
            "<request>",
            redact_for_model(case_text).replace("</request>", "</ request>"),
            "</request>",
        ]
        return ToolRequest(
            system=self._system,
            tools=self._tools,
            tool=SUMMARY_TOOL,
            user="\n".join(lines),
            max_tokens=300,
        )

    async def summarise(
        self,
        case_text: str,
        intent: str,
        checked: Sequence[str] = (),
        *,
        slots: Mapping[str, str] | None = None,
        requester: Person | None = None,
        confident: bool = True,
    ) -> tuple[str, str]:
        """(summary, suggested next step) for an escalated case."""
        fallback = templated(
            case_text, intent, checked, slots=slots, requester=requester, confident=confident
        )
        if self.claude is None:
            return fallback
        request = self.request(case_text, intent, checked, slots=slots, confident=confident)
        proposal = await self.claude.use_tool(request, SummaryProposal.parse)
        if proposal is None:
            return fallback
        who = f"{requester.name}: " if requester else ""
        return who + redact_for_model(proposal.summary), redact_for_model(proposal.next_step)


# --- templates ----------------------------------------------------------------------------

_DETAILS = frozenset(
    {"group", "group_candidates", "software", "software_candidates", "software_name", "device",
     "target_user", "duration", "app", "credentials_exposed", "manipulation"}
)  # fmt: skip

_HEADLINES: dict[str, str] = {
    "account_unlock": "is locked out of their account",
    "password_reset": "needs their password reset",
    "mfa_reset": "needs their sign-in verification (MFA) reset",
    "access_request": "asks for access{to}{days}",
    "access_removal": "asks to be removed from {group}",
    "software_install": "asks for {software} to be installed{on}",
    "software_issue": "reports a problem with {software}",
    "email_issue": "reports a problem with mail or calendar",
    "vpn_issue": "cannot use the VPN",
    "wifi_issue": "has a network or Wi-Fi problem",
    "printer_issue": "has a printing or scanning problem",
    "hardware_issue": "reports a hardware problem{on}",
    "device_lost": "reports a lost or stolen device{on}",
    "security_incident": "reports a possible security incident{exposed}",
    "onboarding": "asks for a new joiner to be set up{for_}",
    "offboarding": "asks for a leaver to be off-boarded{for_}",
    "ticket_status": "asks about an earlier request",
    "other": "has an IT request the desk does not handle itself",
    "not_it": "wrote something that is not an IT matter",
}

_NEXT_STEPS: dict[str, str] = {
    "account_unlock": "Confirm who they are on a known phone number, then unlock the account "
    "and check the sign-in log for where the failed attempts came from.",
    "password_reset": "Confirm who they are on a known phone number, then send a reset link "
    "to their registered recovery address; never set a password for them.",
    "mfa_reset": "Confirm who they are by video or in person before resetting MFA, then have "
    "them enrol the new factor while you watch the sign-in log.",
    "access_request": "Ask the group owner whether the access is appropriate and for how long.",
    "access_removal": "Confirm the membership to remove, then remove it and tell the owner.",
    "software_install": "Check the licence and compatibility, then install it or offer the "
    "catalogue's alternative.",
    "software_issue": "Reproduce the problem with them, check for a known fault, then repair "
    "or reinstall the application.",
    "email_issue": "Check the mailbox and its sync state, and recent mail service incidents.",
    "vpn_issue": "Check their VPN client version and recent gateway logs for their account.",
    "wifi_issue": "Check their location's network status and the device's connection details.",
    "printer_issue": "Check the printer's queue and status, then the driver on their device.",
    "hardware_issue": "Arrange a repair or a loan device, and check the warranty.",
    "device_lost": "Make sure the device is locked, check its last location, and ask whether "
    "a police report is needed.",
    "security_incident": "Contact the person now, check recent sign-ins and mail rules, and "
    "revoke sessions if anything looks wrong.",
    "onboarding": "Check the joiner's start date and role with HR, then prepare the account, "
    "access and equipment.",
    "offboarding": "Confirm the leaving date with HR, then disable the account and remove "
    "access on that date.",
    "ticket_status": "Look up their earlier ticket and tell them where it stands.",
    "other": "Contact the person to understand what they need.",
    "not_it": "Check whether this needs IT at all; if not, point them to the right team.",
}


def templated(
    case_text: str,
    intent: str,
    checked: Sequence[str] = (),
    *,
    slots: Mapping[str, str] | None = None,
    requester: Person | None = None,
    confident: bool = True,
) -> tuple[str, str]:
    """The deterministic summary and next step: one sentence each, from the intent, the
    slots and what the desk checked, with the person's own words where they say more."""
    intent = intent if intent in _HEADLINES else "other"
    slots = slots or {}
    who = requester.name if requester else "The requester"
    headline = _HEADLINES[intent].format(**_fillers(slots))
    if confident:
        summary = f"{who} {headline}."
    else:
        summary = f"{who}'s request was unclear to the desk (best guess: {headline})."
    if slots.get("manipulation"):
        summary += " The message tried to instruct the desk."
    if intent in _QUOTED_INTENTS or not confident:
        summary += f" They wrote: “{_quote(case_text)}”"
    next_step = _NEXT_STEPS[intent]
    if any("step-up" in c or "verif" in c for c in checked):
        next_step = "Call them on a known number first: the desk could not verify them. " + (
            next_step
        )
    return summary, next_step


def _fillers(slots: Mapping[str, str]) -> dict[str, str]:
    group = slots.get("group") or slots.get("group_candidates", "").replace(",", " or ")
    software = (
        slots.get("software")
        or slots.get("software_name")
        or slots.get("software_candidates", "").replace(",", " or ")
    )
    days = slots.get("duration")
    return {
        "to": f" to {group}" if group else (f" to {slots['app']}" if slots.get("app") else ""),
        "days": f" for {days} day{'s' if days != '1' else ''}" if days else "",
        "group": group or "a group",
        "software": software or slots.get("app") or "an application",
        "on": f" ({slots['device']})" if slots.get("device") else "",
        "for_": f" ({slots['target_user']})" if slots.get("target_user") else "",
        "exposed": "; their credentials may be exposed" if slots.get("credentials_exposed") else "",
    }


def _quote(text: str) -> str:
    flat = re.sub(r"\s+", " ", redact_for_model(text)).strip()
    return flat if len(flat) <= _QUOTE_LIMIT else flat[: _QUOTE_LIMIT - 1].rstrip() + "…"
