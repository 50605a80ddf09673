"""A plan: what a case will do once policy lets it, kept in the case's events.

The plan names the policy action and resource asked about at every gate, whose account it
changes (the subject), the skill steps to run (several make a saga), and what follows. When
planning cannot produce one, it asks a `Question` or makes a `Referral` to a human."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.models import Person
from bot.texts import Text

ResourceKind = Literal["person", "group", "software", "device"]


@dataclass
class Question:
    """One clarifying question: the slot it fills and the candidates offered as buttons."""

    slot: str
    text: Text
    options: list[tuple[str, str]] = field(default_factory=list)  # (label, value)


@dataclass
class Referral:
    """A case for a human, with what the desk found. Where it goes, how urgently and who
    hears of it at once is policy's to say (`hand_over`)."""

    note: Text | None = None


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skill: str
    params: dict[str, Any]


class Plan(BaseModel):
    """What the desk intends to do for a case. What follows the actions (a handover, who is
    told) is asked of policy once they ran."""

    # plans of older versions carry fields since retired (then, notify_roles...)
    model_config = ConfigDict(extra="ignore")

    intent: str
    queue: str
    action: str  # the policy action asked about (the first step's skill)
    resource_kind: ResourceKind
    resource_id: str
    subject: str
    steps: list[PlanStep]
    catalogued: bool = True
    credentials_exposed: bool = False
    summary: str = ""
    new_person: dict[str, str] | None = None  # onboarding: the account to be created


def subject_of(plan: Plan) -> Person | None:
    """The person a plan is about when they are not in the directory yet (a new joiner)."""
    if plan.new_person is None:
        return None
    p = plan.new_person
    return Person(username=p["username"], name=p["name"], email=p["email"],
                  manager=p.get("manager") or None, department=p.get("department", ""),
                  title=p.get("title", ""))  # fmt: skip
