"""Approval requests: a card to each approver with who, what, why, risk and expiry; the
decision checked server-side against the approvers recorded for that request; a reminder at
24 hours and expiry at 72; the cards updated in place with the decision and who made it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot import texts
from bot.cases import CaseStatus
from bot.clock import Clock
from bot.context import requester_address
from bot.events import ApprovalExpired
from bot.models import Address, Button, Card, CardField, Reply, new_message_id
from bot.ports import Directory
from bot.scheduler import Job, Scheduler
from bot.state.approvals import Approval, ApprovalRepository, ApprovalStatus
from bot.state.refs import ButtonRefs
from bot.systemturns import SystemTurns

REMIND_AFTER = timedelta(hours=24)
EXPIRE_AFTER = timedelta(hours=72)
TooLate = Literal["already_decided", "expired"]


def too_late(
    *,
    by: str,
    approval_id: str,
    approve: bool,
    case_id: str | None,
    why: TooLate,
    at: datetime,
    current: Approval | None = None,
) -> dict[str, Any]:
    """The audit record of an Approve or Deny that decided nothing: the request was decided
    already (the losing click of a race, a second approver) or had expired. `current` is
    the request as it stood, to say who decided it and how."""
    return {
        "type": "approval.too_late",
        "by": by,
        "approval": approval_id,
        "decision": "approve" if approve else "deny",
        "about_case": case_id,
        "why": why,
        "decided": current.status if current else None,
        "decided_by": current.decided_by if current else None,
        "at": at.isoformat(),
    }


@dataclass(frozen=True)
class ApprovalDeps:
    approvals: ApprovalRepository
    refs: ButtonRefs
    scheduler: Scheduler
    directory: Directory
    system: SystemTurns
    clock: Clock


class Approvals:
    """Approval requests, the cards that show them, and their reminder and expiry."""

    def __init__(self, deps: ApprovalDeps) -> None:
        self._d = deps

    def register_jobs(self) -> None:
        self._d.scheduler.register("approval.remind", self.on_remind)
        self._d.scheduler.register("approval.expire", self.on_expire)

    async def get(self, approval_id: str) -> Approval | None:
        return await self._d.approvals.get(approval_id)

    async def open(
        self,
        *,
        case_id: str,
        requester: str,
        kind: str,
        approvers: list[str],
        title: str,
        fields: list[tuple[str, str]],
    ) -> tuple[Approval, list[tuple[str, Reply]]]:
        """Create the request and the card for each approver (returned, not yet sent)."""
        d = self._d
        now = d.clock.now()
        approval = Approval(
            id="AP-" + secrets.token_hex(4).upper(),
            case_id=case_id,
            requester=requester,
            kind=kind,
            approvers=approvers,
            created_at=now,
            expires_at=now + EXPIRE_AFTER,
            title=title,
            fields=fields,
        )
        for action in ("approve", "deny"):
            approval.refs[action] = await d.refs.mint(
                action,
                case_id=case_id,
                allowed=list(approvers),
                data={"approval": approval.id},
                expires_at=approval.expires_at,
            )
        cards = []
        for approver in approvers:
            message_id = new_message_id()
            approval.messages[approver] = message_id
            cards.append((approver, Reply(id=message_id, text=title, card=self.card(approval))))
        await d.approvals.save(approval)
        await d.scheduler.schedule(
            "approval.remind",
            now + REMIND_AFTER,
            {"approval": approval.id},
            job_id=f"remind:{approval.id}",
        )
        await d.scheduler.schedule(
            "approval.expire",
            approval.expires_at,
            {"approval": approval.id},
            job_id=f"expire:{approval.id}",
        )
        return approval, cards

    def card(self, approval: Approval, decider_name: str | None = None) -> Card:
        fields = [CardField(label=label, value=value) for label, value in approval.fields]
        expires = approval.expires_at.strftime("%a %d %b %H:%M UTC")
        if approval.status == "pending":
            buttons: tuple[Button, ...] = (
                Button(
                    label=texts.say("approval.approve"),
                    action="approve",
                    ref=approval.refs["approve"],
                    style="primary",
                ),
                Button(
                    label=texts.say("approval.deny"),
                    action="deny",
                    ref=approval.refs["deny"],
                    style="danger",
                    confirm=texts.say("approval.deny_confirm"),
                ),
            )
            context = texts.say("approval.waiting_context", expires=expires)
        else:
            buttons = ()
            verdict = texts.say(f"approval.verdict.{approval.status}")
            context = (
                texts.say("approval.decided_context", verdict=verdict, name=decider_name)
                if decider_name
                else verdict
            )
        return Card(
            kind="approval",
            title=approval.title,
            fields=tuple(fields),
            buttons=buttons,
            context=context,
            case_id=approval.case_id,
            about=approval.requester,
        )

    def updates(self, approval: Approval, decider_name: str | None) -> list[tuple[Address, Reply]]:
        card = self.card(approval, decider_name)
        return [
            (Address.dm(approver), Reply(id=message_id, text=card.title, card=card))
            for approver, message_id in approval.messages.items()
        ]

    async def decide(
        self, approval: Approval, status: ApprovalStatus, by: str | None, at: datetime
    ) -> tuple[Approval, bool]:
        """Record the decision, if the request is still pending, and drop the reminder and
        expiry that no longer apply (the expiry job itself decides "expired": it is not
        cancelled from inside its own run). The request as it now is, and whether this
        decision is the one that counts: the first of two at once wins, the other is told
        the request was already decided."""
        decided = approval.model_copy(update={"status": status, "decided_by": by, "decided_at": at})
        if await self._d.approvals.decide(decided) is None:
            return await self._d.approvals.get(approval.id) or approval, False
        await self._d.scheduler.cancel(f"remind:{decided.id}")
        if status != "expired":
            await self._d.scheduler.cancel(f"expire:{decided.id}")
        return decided, True

    # --- scheduled: the 24-hour reminder and the 72-hour expiry ---------------------
    async def on_remind(self, job: Job) -> None:
        approval = await self.get(job.payload["approval"])
        if approval is None or approval.status != "pending":
            return
        async with self._d.system.on_case(job, approval.case_id) as (ctx, _case):
            requester = await self._d.directory.person(approval.requester)
            for approver in approval.approvers:
                ctx.send(
                    Address.dm(approver),
                    ctx.text_reply(
                        texts.say(
                            "approval.reminder",
                            requester=requester.name if requester else approval.requester,
                        )
                    ),
                )

    async def on_expire(self, job: Job) -> None:
        approval = await self.get(job.payload["approval"])
        if approval is None or approval.status != "pending":
            return
        async with self._d.system.on_case(job, approval.case_id) as (ctx, case):
            approval, expired = await self.decide(approval, "expired", None, self._d.clock.now())
            if not expired:  # decided a moment before it ran out
                return
            for to, reply in self.updates(approval, None):
                ctx.update(to, reply)
            if case is not None and case.status == CaseStatus.AWAITING_APPROVAL:
                case = await ctx.record(case, ApprovalExpired(approval=approval.id),
                                        actor="system", status=CaseStatus.CANCELLED)  # fmt: skip
                ctx.send(requester_address(case), ctx.text_reply(texts.say("approval.expired")))
