"""From an understood request to a plan: the skill that serves its intent plans it (its
parameters from the slots, one clarifying question when a slot is missing, or a referral to
a human); the planner only finds that skill and never acts for someone the directory does
not know."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.intents import UNKNOWN_PERSON
from bot.models import Person
from bot.plans import Plan, PlanStep, Question, Referral
from bot.ports import Devices, Directory
from bot.texts import Text
from skills.base import asking
from skills.planning import Ask, Lookups, Names, Proposal
from skills.registry import SkillRegistry


@dataclass(frozen=True)
class PlannerDeps:
    skills: SkillRegistry
    directory: Directory
    devices: Devices
    names: Names


class Planner:
    """Builds a plan for a case from its intent and slots, or says what is missing."""

    def __init__(self, deps: PlannerDeps) -> None:
        self._d = deps
        self._find = Lookups(deps.directory, deps.devices, deps.names)

    async def plan(
        self, person: Person, intent: str, queue: str, slots: dict[str, Any], text: str
    ) -> Plan | Question | Referral:
        skill = self._d.skills.for_intent(intent)
        if skill is None:
            return Referral()
        subject = str(slots.get("target_user") or person.username)
        if not skill.creates_subject and not await self._known(subject, person):
            about_others = any(s.about_others for s in skill.intents if s.name == intent)
            if about_others:
                return Question("target_user", asking("person"))
            return _about_someone_unknown(subject)
        ask = Ask(person, subject, intent, queue, slots, text)
        outcome = await skill.plan(ask, self._find)
        if not isinstance(outcome, Proposal):
            return outcome
        return Plan(
            intent=intent,
            queue=queue,
            action=skill.name,
            resource_kind=skill.resource,
            resource_id=outcome.resource_id,
            subject=outcome.subject or subject,
            steps=[PlanStep(skill=skill.name, params=outcome.params), *outcome.then],
            catalogued=outcome.catalogued,
            credentials_exposed=outcome.credentials_exposed,
            summary=text[:300],
            new_person=outcome.new_person,
        )

    async def _known(self, subject: str, person: Person) -> bool:
        if subject == person.username:
            return True
        return not subject.startswith(UNKNOWN_PERSON) and (
            await self._d.directory.person(subject) is not None
        )


def _about_someone_unknown(subject: str) -> Referral:
    """A request about someone the directory does not know ("add dan to...", "reset her
    password"): never acted on, and never turned into a request for the requester. A human
    tells the requester that each employee asks for themselves (policy
    refuse.someone-elses-account), and sees who was named; a lost device or an incident
    reaches security at once, as policy routes every such handover."""
    named = subject.removeprefix(UNKNOWN_PERSON)
    return Referral(Text("note.someone_unknown", {"named": named}))
