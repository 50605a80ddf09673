"""What a person may want, as the desk's understanding reads it: an intent, the queue a human
would take it from, a line that says what it means, the example phrasings the offline
understanding learns it from, and which catalogue details it reads from a message.

A skill declares the intents it serves beside itself (`skills.base.Skill.intents`); the desk
itself serves the rest here: problems answered from runbooks, cases for a human, the status
of earlier requests, and messages that are not IT at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.models import Queue

Reading = str  # a catalogue detail an intent reads: "group", "software", "duration"

# `target_user` of a request about someone the directory does not know: "unknown:dan".
UNKNOWN_PERSON = "unknown:"

EXAMPLES = Path(__file__).resolve().parent / "understanding" / "examples"


@dataclass(frozen=True)
class IntentSpec:
    """One intent. `examples` is a JSONL file of phrasings (`{"text": ...}` per line, with
    `{group}`, `{software}`, `{person}`, `{device}`, `{app}` placeholders); `reads` names
    the catalogue details filled only for this intent ("security" in "a security issue" is
    not the Security group); `about_others` says a request of this intent is normally about
    someone else (a joiner, a leaver), `new_person` that this someone is not in the
    directory yet (a joiner: only a name counts, "a new hire" is nobody to act for)."""

    name: str
    queue: Queue | None
    description: str
    examples: Path
    reads: frozenset[Reading] = field(default_factory=frozenset)
    about_others: bool = False
    new_person: bool = False


def intent(
    folder: Path,
    name: str,
    queue: Queue | None,
    description: str,
    *reads: Reading,
    about_others: bool = False,
    new_person: bool = False,
) -> IntentSpec:
    """An intent whose phrasings are `folder/<name>.jsonl`."""
    examples = folder / f"{name}.jsonl"
    return IntentSpec(
        name, queue, description, examples, frozenset(reads), about_others, new_person
    )


def _desk(name: str, queue: Queue | None, description: str, *reads: Reading) -> IntentSpec:
    return intent(EXAMPLES, name, queue, description, *reads)


# The intents no skill serves: the desk answers, hands over, or says what it can do.
DESK_INTENTS: tuple[IntentSpec, ...] = (
    _desk("software_issue", "software",
          "an application misbehaves (not mail, not VPN)", "software"),
    _desk("email_issue", "software",
          "mail, calendar, Outlook/Exchange, mailbox, mail on the phone"),
    _desk("vpn_issue", "network", "VPN will not connect, drops, is slow"),
    _desk("wifi_issue", "network", "Wi-Fi, wired network, internet connectivity (not VPN)"),
    _desk("printer_issue", "hardware", "printing, scanning, printer setup"),
    _desk("hardware_issue", "hardware", "a device or peripheral is broken, slow, or needed"),
    _desk("ticket_status", "other", "the status of an earlier request or ticket"),
    _desk("other", "other", "an IT matter none of the above covers"),
    _desk("not_it", None, "not an IT matter at all"),
)  # fmt: skip

# The order spec/intents.md lists the intents in. Catalogues follow it, so the training set
# (and the model fitted on it), the prompt and the tool schema stay as they are when a skill
# adds an intent; intents it does not list (a new skill's) come after it, by name.
SPEC_ORDER: tuple[str, ...] = (
    "account_unlock", "password_reset", "mfa_reset", "access_request", "access_removal",
    "software_install", "software_issue", "email_issue", "vpn_issue", "wifi_issue",
    "printer_issue", "hardware_issue", "device_lost", "security_incident", "onboarding",
    "offboarding", "ticket_status", "other", "not_it",
)  # fmt: skip


def spec_order(spec: IntentSpec) -> tuple[int, str]:
    """Where an intent stands in a catalogue."""
    return (SPEC_ORDER.index(spec.name) if spec.name in SPEC_ORDER else len(SPEC_ORDER), spec.name)
