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

from bot import texts
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
        summary = redact_for_model(proposal.summary)
        if requester:
            summary = texts.say("summary.by", name=requester.name, summary=summary)
        return summary, redact_for_model(proposal.next_step)


# --- templates ----------------------------------------------------------------------------

_DETAILS = frozenset(
    {"group", "group_candidates", "software", "software_candidates", "software_name", "device",
     "target_user", "duration", "app", "credentials_exposed", "manipulation"}
)  # fmt: skip


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
    intent = intent if texts.DESK.has(f"summary.headline.{intent}") else "other"
    slots = slots or {}
    who = requester.name if requester else texts.say("summary.the_requester")
    headline = _headline(intent, slots)
    summary = texts.say("summary.line" if confident else "summary.unclear", who=who,
                        headline=headline)  # fmt: skip
    if slots.get("manipulation"):
        summary += texts.say("summary.manipulation")
    if intent in _QUOTED_INTENTS or not confident:
        summary += texts.say("summary.quoted", text=_quote(case_text))
    next_step = texts.say(f"summary.next_step.{intent}")
    if any("step-up" in c or "verif" in c for c in checked):
        next_step = texts.say("summary.unverified", next_step=next_step)
    return summary, next_step


def _headline(intent: str, slots: Mapping[str, str]) -> str:
    key = f"summary.headline.{intent}"
    fillers = _fillers(slots)
    return texts.say(key, **{name: fillers[name] for name in texts.DESK.placeholders(key)})


def _fillers(slots: Mapping[str, str]) -> dict[str, str]:
    either = texts.say("summary.part.either")
    group = slots.get("group") or slots.get("group_candidates", "").replace(",", either)
    software = (
        slots.get("software")
        or slots.get("software_name")
        or slots.get("software_candidates", "").replace(",", either)
    )
    days = slots.get("duration")
    to = group or slots.get("app")
    return {
        "to": texts.say("summary.part.to", what=to) if to else "",
        "days": texts.say("summary.part.days", count=_count(days)) if days else "",
        "group": group or texts.say("summary.part.a_group"),
        "software": software or slots.get("app") or texts.say("summary.part.an_application"),
        "on": texts.say("summary.part.on", device=slots["device"]) if slots.get("device") else "",
        "for_": (
            texts.say("summary.part.for", person=slots["target_user"])
            if slots.get("target_user")
            else ""
        ),
        "exposed": texts.say("summary.part.exposed") if slots.get("credentials_exposed") else "",
    }


def _count(days: str) -> int | str:
    return int(days) if days.isdigit() else days


def _quote(text: str) -> str:
    flat = re.sub(r"\s+", " ", redact_for_model(text)).strip()
    return flat if len(flat) <= _QUOTE_LIMIT else flat[: _QUOTE_LIMIT - 1].rstrip() + "…"
