"""Where policy sends a case for a human (`hand_over`: the queue, the priority, the roles told
at once) and what follows an action the desk executed (`follow_up`: the person told of a
change to their credentials, a role told, a human taking over)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Person
from bot.policy import PolicyEngine, Resource, questions


@dataclass(frozen=True)
class Handover:
    queue: str
    priority: str
    notify: tuple[str, ...]
    routed: bool  # a policy routed it (rather than the defaults)


@dataclass(frozen=True)
class FollowUp:
    notify_owner: bool
    notify: tuple[str, ...]
    escalate: str | None  # the queue a human takes the case from, when one must
    priority: str


class Routing:
    def __init__(self, policy: PolicyEngine) -> None:
        self._policy = policy

    def hand_over(
        self, requester: Person, *, intent: str, queue: str, sure: bool, confidence: float
    ) -> Handover:
        """Where a case for a human goes: what policy says, else the intent's queue at
        normal priority with nobody else told."""
        answer = self._policy.ask(
            questions.hand_over(
                requester, intent=intent, queue=queue, sure=sure, confidence=confidence
            )
        )
        return Handover(
            queue=next(iter(answer.labels("queue")), queue),
            priority=next(iter(answer.labels("priority")), "normal"),
            notify=tuple(dict.fromkeys(answer.labels("notify"))),
            routed=bool(answer.allowed),
        )

    def follow_up(
        self, requester: Person, resource: Resource, *, skill: str, intent: str, changed: bool
    ) -> FollowUp:
        answer = self._policy.ask(
            questions.about_skill(
                "follow_up", requester, resource, skill=skill, intent=intent, changed=changed
            )
        )
        escalate = answer.labels("escalate")
        return FollowUp(
            notify_owner="true" in answer.labels("notify_owner"),
            notify=tuple(dict.fromkeys(answer.labels("notify"))),
            escalate=escalate[0] if escalate else None,
            priority=next(iter(answer.labels("priority")), "normal"),
        )

    def undo_hours(self, requester: Person, resource: Resource, *, skill: str, intent: str) -> int:
        """How many hours policy offers Undo of an action for (0: not at all)."""
        answer = self._policy.ask(
            questions.about_skill("offer_undo", requester, resource, skill=skill, intent=intent)
        )
        hours = [int(h) for h in answer.labels("hours") if h.isdigit()]
        return min(hours) if hours else 0
