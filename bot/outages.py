"""Many people, one problem: an outage becomes one incident instead of a storm of cases.

A report of a service problem (the understanding's intent, plus the application or service
it names) is counted under that problem; when `threshold` people report it within `window`,
the desk opens one incident: one parent ticket through the tickets port, one on-call thread
with a live count, and every reporter (those before, and each one after) is told at once
that IT knows and they are on the list. Closing it tells them all. Requests that are not
such a report (an unlock in the middle of a VPN storm) are untouched."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import structlog

from bot import texts
from bot.cases import Case, CaseStatus
from bot.clock import Clock
from bot.context import TurnContext
from bot.events import JoinedOutage
from bot.models import Address, Card, CardField, Reply, new_message_id
from bot.ports import NewTicket, Tickets
from bot.state.incidents import Incident, IncidentRepository, Reported
from bot.understanding import Understanding
from bot.understanding.slots import out_of_service

log = structlog.get_logger("itdesk.outages")

# Problems with a shared service behind them; a broken laptop is one person's.
SHARED = frozenset({"vpn_issue", "wifi_issue", "email_issue", "printer_issue", "software_issue"})


@dataclass(frozen=True)
class OutageConfig:
    window: timedelta = timedelta(minutes=15)
    threshold: int = 5  # people reporting the same problem within the window


@dataclass(frozen=True)
class OutageDeps:
    incidents: IncidentRepository
    tickets: Tickets
    clock: Clock
    oncall_channel: str
    config: OutageConfig


def problem_of(u: Understanding, text: str) -> tuple[str, str] | None:
    """The shared problem a message reports: its intent and the service it names ("" for
    the intent's own service: the VPN, the Wi-Fi, mail); None when it is not one."""
    if u.intent not in SHARED or not out_of_service(text):
        return None  # not a shared service, or a question rather than a failure
    if u.intent != "software_issue":  # the VPN, the network, mail, printing: one service each
        return u.intent, ""
    return u.intent, str(u.slots.get("software") or u.slots.get("app") or "").lower()


class Outages:
    def __init__(self, deps: OutageDeps) -> None:
        self._d = deps

    async def report(self, ctx: TurnContext, case: Case, u: Understanding) -> Case | None:
        """Count the case's report; the case as it now is when it joined an incident (the
        person was told), else None (handle it as usual)."""
        d = self._d
        problem = problem_of(u, case.text)
        if problem is None:
            return None
        intent, service = problem
        key = f"{intent}:{service}"
        reported = await d.incidents.report(
            key, case.requester, case.id, now=d.clock.now(),
            window_s=int(d.config.window.total_seconds()), threshold=d.config.threshold,
        )  # fmt: skip
        if reported.incident is None:
            return None
        if reported.outcome == "opened":
            incident = await self._open(ctx, reported, key, intent, service)
        else:  # (not described yet when it was opened a moment ago)
            described = await d.incidents.get(reported.incident)
            incident = described or Incident(reported.incident, key, intent, service, "open", "")
        case = await ctx.record(case, JoinedOutage(incident=incident.id), actor="desk",
                                status=CaseStatus.ANSWERED)  # fmt: skip
        ctx.say(texts.say("outage.known", ticket_id=incident.ticket_id or incident.id))
        if reported.fresh and reported.outcome == "joined":
            await self._update_thread(ctx, incident)
        return case

    async def _open(
        self, ctx: TurnContext, reported: Reported, key: str, intent: str, service: str
    ) -> Incident:
        d = self._d
        incident_id = reported.incident or ""
        what = _what(intent, service)
        ticket = await d.tickets.open(
            NewTicket(
                key=f"outage:{incident_id}",
                requester=ctx.person.username,
                queue="network" if intent in {"vpn_issue", "wifi_issue"} else "software",
                priority="high",
                summary=texts.say("outage.ticket_summary", what=what),
            )
        )
        incident = Incident(incident_id, key, intent, service, "open",
                            d.clock.now().isoformat(), ticket.id, new_message_id())  # fmt: skip
        await d.incidents.describe(incident)
        reporters = list(reported.earlier)  # those who join from now on are told as they do
        log.info("outage.opened", incident=incident_id, key=key, reporters=len(reporters))
        ctx.send(Address.case_thread(d.oncall_channel, incident_id),
                 Reply(id=incident.thread_message, text=self._headline(incident, len(reporters)),
                       card=self._card(incident, reporters)))  # fmt: skip
        for person in reporters:
            if person != ctx.person.username:  # told by `report`
                ctx.send(Address.dm(person), ctx.text_reply(
                    texts.say("outage.known", ticket_id=ticket.id)))  # fmt: skip
        return incident

    async def _update_thread(self, ctx: TurnContext, incident: Incident) -> None:
        reporters = await self._d.incidents.reporters(incident.id)
        ctx.update(Address.case_thread(self._d.oncall_channel, incident.id),
                   Reply(id=incident.thread_message, text=self._headline(incident, len(reporters)),
                         card=self._card(incident, reporters)))  # fmt: skip

    async def declare(self, ctx: TurnContext, u: Understanding, text: str) -> Incident | None:
        """An admin declares an outage ("the VPN is down"): the incident opens at once, so the
        first report is told. None when the words name no shared service."""
        problem = problem_of(u, text)
        if problem is None:
            return None
        intent, service = problem
        key = f"{intent}:{service}"
        incident_id, new = await self._d.incidents.declare(key)
        if not new:
            return await self._d.incidents.get(incident_id)
        opened = Reported(incident_id, "opened", True, ())
        return await self._open(ctx, opened, key, intent, service)

    async def merge(self, ctx: TurnContext, source_id: str, target_id: str) -> bool:
        """Fold one open incident into another: its reporters are on the other's list (and
        told when that one is fixed), its ticket is resolved, its thread says where it went."""
        d = self._d
        source, target = await d.incidents.get(source_id), await d.incidents.get(target_id)
        if source is None or target is None or source_id == target_id:
            return False
        if source.status != "open" or target.status != "open":
            return False
        await d.incidents.merge(source, target)
        if source.ticket_id:
            await d.tickets.update(source.ticket_id, status="resolved")
        merged = texts.say("outage.merged", incident=source.id, into=target.id)
        where = Address.case_thread(d.oncall_channel, source.id)
        ctx.update(where, Reply(id=source.thread_message, text=merged))
        await self._update_thread(ctx, target)
        return True

    async def close(self, ctx: TurnContext, incident_id: str) -> bool:
        """Close an open incident and tell every reporter it is fixed."""
        d = self._d
        incident = await d.incidents.get(incident_id)
        if incident is None or not await d.incidents.close(incident):
            return False
        reporters = await d.incidents.reporters(incident.id)
        if incident.ticket_id:
            await d.tickets.update(incident.ticket_id, status="resolved")
        what = _what(incident.intent, incident.service)
        for person in reporters:
            ctx.send(Address.dm(person), ctx.text_reply(texts.say("outage.resolved", what=what)))
        closed = replace(incident, status="closed")
        ctx.update(Address.case_thread(d.oncall_channel, incident.id),
                   Reply(id=incident.thread_message, text=self._headline(closed, len(reporters)),
                         card=self._card(closed, reporters)))  # fmt: skip
        log.info("outage.closed", incident=incident.id, reporters=len(reporters))
        return True

    async def open_ones(self) -> list[tuple[Incident, int]]:
        return [(i, len(await self._d.incidents.reporters(i.id)))
                for i in await self._d.incidents.open_ones()]  # fmt: skip

    def _headline(self, incident: Incident, count: int) -> str:
        what = _what(incident.intent, incident.service)
        closed = incident.status == "closed"
        return texts.say("outage.thread_closed" if closed else "outage.thread", what=what,
                         count=count, incident=incident.id)  # fmt: skip

    def _card(self, incident: Incident, reporters: list[str]) -> Card:
        return Card(
            kind="escalation",
            title=self._headline(incident, len(reporters)),
            fields=(
                CardField(label=texts.say("outage.ticket_field"), value=incident.ticket_id),
                CardField(
                    label=texts.say("outage.reporters_field"), value=", ".join(reporters[:20])
                ),
            ),
            context=texts.say("outage.close_hint", incident=incident.id),
            case_id=incident.id,
        )


def _what(intent: str, service: str) -> str:
    return service or texts.say(f"outage.service.{intent}")
