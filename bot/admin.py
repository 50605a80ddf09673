"""Admin commands, `/itdesk ...`: pause, resume, mode, stats, audit, undo, oncall, outage,
access. Policy says who may run each (admins all, on call `access`); the check is here,
before anything changes."""

from __future__ import annotations

import shlex
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from bot import texts
from bot.access import TimeBoundAccess
from bot.actions import ActionRunner, Provenance
from bot.cases import Case, CaseStatus
from bot.clock import Clock
from bot.context import TurnContext
from bot.events import ActionRecord, Escalated, Feedback
from bot.models import Card, CardField
from bot.oncall import OnCall
from bot.outages import Outages
from bot.policy import PolicyEngine, questions
from bot.ports import Directory
from bot.state.approvals import ApprovalRepository
from bot.state.audit import AuditLog
from bot.state.cases import CaseRepository
from bot.state.control import MODES, DeskControl
from bot.state.conversations import ConversationLocks
from bot.state.grants import Grant
from bot.understanding import Understander

AUDIT_SCAN = 2000  # the newest cases `/itdesk audit` looks through
QUEUES = ("access", "accounts", "software", "hardware", "network", "security", "other")


@dataclass(frozen=True)
class AdminDeps:
    control: DeskControl
    cases: CaseRepository
    approvals: ApprovalRepository
    audit: AuditLog
    actions: ActionRunner
    access: TimeBoundAccess
    oncall: OnCall
    policy: PolicyEngine
    directory: Directory
    locks: ConversationLocks
    outages: Outages
    understanding: Understander
    clock: Clock


class Admin:
    def __init__(self, deps: AdminDeps) -> None:
        self._d = deps

    async def run(self, ctx: TurnContext) -> None:
        d = self._d
        try:
            words = shlex.split(ctx.turn.text.strip())
        except ValueError:
            words = ctx.turn.text.split()
        if words and words[0] == "/itdesk":
            words = words[1:]
        command, args = (words[0].lower(), words[1:]) if words else ("help", [])
        if not d.policy.ask(questions.command(ctx.person, command)).allowed:
            # a refused attempt to steer the desk is worth a line in the audit trail too
            await d.audit.append(
                {
                    "type": "admin.refused",
                    "by": ctx.person.username,
                    "command": ctx.turn.text.strip()[:200],
                    "at": d.clock.now().isoformat(),
                }
            )
            ctx.ephemeral(texts.say("admin.only_admins"))
            return
        await d.audit.append(
            {
                "type": "admin.command",
                "by": ctx.person.username,
                "command": command,
                "args": args,
                "at": d.clock.now().isoformat(),
            }
        )
        if command == "pause":
            await d.control.set_paused(True, ctx.person.username)
            ctx.say(texts.say("admin.paused"))
        elif command == "resume":
            await d.control.set_paused(False, ctx.person.username)
            ctx.say(texts.say("admin.resumed"))
        elif command == "mode":
            await self._mode(ctx, args)
        elif command == "stats":
            await self._stats(ctx)
        elif command == "audit":
            await self._audit(ctx, args)
        elif command == "undo":
            await self._undo(ctx, args)
        elif command == "oncall":
            await self._oncall(ctx, args)
        elif command == "outage":
            await self._outage(ctx, args)
        elif command == "access":
            await self._access(ctx, args)
        elif command == "help":
            ctx.ephemeral(texts.say("admin.help"))
        else:
            ctx.ephemeral(texts.say("admin.unknown_command") + "\n" + texts.say("admin.help"))

    async def _mode(self, ctx: TurnContext, args: list[str]) -> None:
        if len(args) != 2 or args[0] not in QUEUES or args[1] not in MODES:
            ctx.ephemeral(texts.say("admin.mode_usage", queues=", ".join(QUEUES)))
            return
        await self._d.control.set_mode(args[0], args[1])
        ctx.say(texts.say("admin.mode_set", queue=args[0], mode=args[1]))

    async def _oncall(self, ctx: TurnContext, args: list[str]) -> None:
        d = self._d
        if not args:
            roster = await d.oncall.people()
            nobody = texts.say("admin.oncall_nobody")
            ctx.say(texts.say("admin.oncall", people=", ".join(roster) if roster else nobody))
            return
        people = {a: await d.directory.person(a) for a in args}
        unknown = [a for a, p in people.items() if p is None]
        if unknown:
            ctx.ephemeral(texts.say("admin.not_in_directory", people=", ".join(unknown)))
            return
        disabled = [a for a, p in people.items() if p is not None and p.disabled]
        if disabled:
            ctx.ephemeral(texts.say("admin.disabled_accounts", people=", ".join(disabled)))
            return
        await d.control.set_roster(args)
        ctx.say(texts.say("admin.oncall_set", people=", ".join(args)))

    async def _outage(self, ctx: TurnContext, args: list[str]) -> None:
        """`/itdesk outage`: the open incidents; `/itdesk outage close <id>`: close one and
        tell everyone who reported it."""
        outages = self._d.outages
        if not args:
            found = await outages.open_ones()
            lines = [
                texts.say("outage.open_line", incident=i.id, count=n, ticket_id=i.ticket_id,
                          what=i.service or texts.say(f"outage.service.{i.intent}"))
                for i, n in found
            ]  # fmt: skip
            ctx.say("\n".join(lines) if lines else texts.say("outage.none_open"))
        elif len(args) == 2 and args[0] == "close":
            incident = args[1].upper()
            if await outages.close(ctx, incident):
                ctx.say(texts.say("outage.closed", incident=incident))
            else:
                ctx.ephemeral(texts.say("outage.not_open", incident=incident))
        elif len(args) >= 2 and args[0] == "declare":
            words = " ".join(args[1:])
            heard = await self._d.understanding.understand(words, requester=ctx.person)
            declared = await outages.declare(ctx, heard, words)
            if declared is None:
                ctx.ephemeral(texts.say("outage.not_a_service", words=words))
            else:
                ctx.say(texts.say("outage.declared", incident=declared.id))
        elif len(args) == 4 and args[0] == "merge" and args[2] == "into":
            source, target = args[1].upper(), args[3].upper()
            if await outages.merge(ctx, source, target):
                ctx.say(texts.say("outage.merged", incident=source, into=target))
            else:
                ctx.ephemeral(texts.say("outage.not_merged", incident=source, into=target))
        else:
            ctx.ephemeral(texts.say("outage.usage"))

    async def _access(self, ctx: TurnContext, args: list[str]) -> None:
        """`/itdesk access`: time-bound access past its end; `/itdesk access stop <case>
        <group> <reason>`: a human decided (removed by hand, or kept), so the desk stops."""
        d = self._d
        if not args:
            lines = [_grant_line(g) for g in await d.access.past_due()]
            ctx.say("\n".join(lines) if lines else texts.say("admin.access_none"))
            return
        if len(args) < 4 or args[0] != "stop":
            ctx.ephemeral(texts.say("admin.access_usage"))
            return
        case_id, group, reason = args[1].upper(), args[2], " ".join(args[3:])
        case = await d.cases.get(case_id)
        stopped = None
        if case is not None:
            async with d.locks.hold(case.conversation) as fence:
                ctx.fence = fence
                case = await d.cases.get(case_id)  # as it is now the conversation is held
                if case is not None:
                    stopped = await d.access.stop(ctx, case, group, reason)
        if stopped is None:
            ctx.ephemeral(texts.say("admin.access_not_held", case_id=case_id, group=group))
            return
        ctx.say(texts.say("admin.access_stopped", user=stopped.user, group=group,
                          case_id=case_id, reason=reason))  # fmt: skip

    async def _stats(self, ctx: TurnContext) -> None:
        d = self._d
        cases = await d.cases.many(await d.cases.all_ids())
        closed = [
            c
            for c in cases
            if c.status
            in {
                CaseStatus.RESOLVED,
                CaseStatus.ANSWERED,
                CaseStatus.REFUSED,
                CaseStatus.CANCELLED,
                CaseStatus.ESCALATED,
                CaseStatus.CLAIMED,
            }
        ]
        automated = [
            c
            for c in closed
            if c.status in {CaseStatus.RESOLVED, CaseStatus.ANSWERED} and not _touched_by_human(c)
        ]
        na = texts.say("admin.stats_na")
        rate = f"{100 * len(automated) / len(closed):.0f}%" if closed else na
        ends = [(c, _resolved_at(c)) for c in cases]
        durations = [(end - c.opened_at).total_seconds() for c, end in ends if end is not None]
        median = _duration(statistics.median(durations)) if durations else na
        queues = Counter(c.queue or "other" for c in cases if c.last(Escalated) is not None)
        feedback = [f for c in cases for _, f in c.all(Feedback)]
        helped = sum(1 for f in feedback if f.helped)
        unhelped = len(feedback) - helped
        escalations = ", ".join(f"{q}: {n}" for q, n in sorted(queues.items()))
        paused = texts.say("admin.yes" if await d.control.paused() else "admin.no")
        fields = tuple(
            CardField(label=texts.say(f"admin.stats_{key}"), value=value)
            for key, value in (
                ("requests", str(len(cases))),
                ("rate", rate),
                ("median", median),
                ("escalations", escalations or texts.say("admin.stats_none")),
                ("approvals", str(await d.approvals.pending_count())),
                ("feedback", texts.say("admin.stats_feedback_value", helped=helped,
                                       unhelped=unhelped)),
                ("paused", paused),
            )
        )  # fmt: skip
        title = texts.say("admin.stats_title")
        ctx.say(title, Card(kind="info", title=title, fields=fields))

    async def _audit(self, ctx: TurnContext, args: list[str]) -> None:
        d = self._d
        if len(args) != 1:
            ctx.ephemeral(texts.say("admin.audit_usage"))
            return
        user = args[0]
        lines = []
        # what they asked for, and what was done to their account at someone else's request
        # (an offboarding by HR, an admin's undo)
        for case in await d.cases.many((await d.cases.all_ids())[-AUDIT_SCAN:]):
            for e, action in case.all(ActionRecord):
                if case.requester == user or action.args.get("user") == user:
                    line = texts.say("admin.audit_line", at=f"{e.at:%Y-%m-%d %H:%M}",
                                     action_id=action.action_id, skill=action.skill,
                                     args=_args(action.args), case_id=case.id,
                                     asked_by=action.requested_by or case.requester)  # fmt: skip
                    lines.append(line)
        lines.sort()
        ctx.say("\n".join(lines[-15:]) if lines else texts.say("admin.audit_none", user=user))

    async def _undo(self, ctx: TurnContext, args: list[str]) -> None:
        d = self._d
        if len(args) != 1:
            ctx.ephemeral(texts.say("admin.undo_usage"))
            return
        record = await d.actions.record(args[0].upper())
        if record is None or not record.inverse:
            ctx.ephemeral(texts.say("admin.undo_none", action_id=args[0]))
            return
        case = await d.cases.get(record.case_id)
        if case is None:
            ctx.ephemeral(texts.say("admin.undo_case_gone"))
            return
        async with d.locks.hold(case.conversation) as fence:
            ctx.fence = fence
            why = Provenance(
                requested_by=ctx.person.username,
                approved_by=(),
                policy=("admin.undo",),
                verification=None,
            )
            case, done = await d.actions.undo(ctx, case, record.action_id, why)
            await d.access.cancel_expiry(case.id)
            await d.actions.finished_undo(record.action_id)
        ctx.say(texts.say("admin.undone", skill=record.skill, args=_args(record.args),
                          action_id=done.action_id))  # fmt: skip


def _grant_line(grant: Grant) -> str:
    about = {"case_id": grant.case, "user": grant.user, "group": grant.group,
             "due": f"{grant.until:%Y-%m-%d %H:%M}"}  # fmt: skip
    if grant.flag == "unconfirmed":
        return texts.say("admin.access_line_unconfirmed", **about)
    return texts.say(
        "admin.access_line_overdue" if grant.flag == "overdue" else "admin.access_line",
        attempts=grant.attempts,
        **about,
    )


def _touched_by_human(case: Case) -> bool:
    approvers = {e.actor for e in case.events if e.type in {"approved", "denied"}}
    return any(h not in approvers for h in case.humans)


def _resolved_at(case: Case) -> datetime | None:
    for e in case.events:
        if e.status in {CaseStatus.RESOLVED, CaseStatus.ANSWERED}:
            return e.at
    return None


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _args(args: dict[str, object]) -> str:
    return " ".join(f"{k}={v}" for k, v in args.items())
