"""The on-call side: who is on call (the roster an admin set with `/itdesk oncall`, else the
people with the on-call role) and what policy lets a person do with a case handed to a human
(claim it, answer in its thread, resolve it) and whether they see the on-call channel."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cases import Case, CaseStatus
from bot.models import Person
from bot.policy import PolicyEngine, questions
from bot.ports import Directory
from bot.state.control import DeskControl


@dataclass(frozen=True)
class OnCallDeps:
    policy: PolicyEngine
    control: DeskControl  # the on-call roster admins set
    directory: Directory


class OnCall:
    def __init__(self, deps: OnCallDeps) -> None:
        self._d = deps

    async def on_roster(self, person: Person) -> bool:
        """Whether an admin named the person on call."""
        roster = await self._d.control.roster()
        return roster is not None and person.username in roster

    async def people(self) -> list[str]:
        """Who is on call: the roster an admin set, else everyone with the on-call role."""
        roster = await self._d.control.roster()
        if roster is not None:
            return roster
        return [p.username for p in await self._d.directory.people_with_role("oncall")]

    async def may(self, action: str, person: Person, case: Case) -> bool:
        """Whether policy lets `person` claim (`claim_case`), answer in (`relay_reply`) or
        resolve (`resolve_case`) `case`."""
        question = questions.on_case(
            action,
            person,
            case_id=case.id,
            requester=case.requester,
            status=case.status.value,
            queue=case.queue,
            claimed_by=case.claimed_by,
            on_roster=await self.on_roster(person),
        )
        return self._d.policy.ask(question).allowed

    async def picks_up(self, person: Person) -> bool:
        """Whether a person may pick up escalations (claim a case waiting for a human)."""
        question = questions.on_case(
            "claim_case",
            person,
            case_id="waiting",
            requester=person.username,
            status=CaseStatus.ESCALATED.value,
            queue=None,
            claimed_by=None,
            on_roster=await self.on_roster(person),
        )
        return self._d.policy.ask(question).allowed

    async def sees_channel(self, person: Person) -> bool:
        """Whether a person may read the on-call channel's threads."""
        question = questions.see_oncall(person, on_roster=await self.on_roster(person))
        return self._d.policy.ask(question).allowed
