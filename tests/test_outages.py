"""Many people, one problem: reports of the same outage become one incident with one parent
ticket and one on-call thread; every reporter is told at once and again when it is fixed;
unrelated requests in the middle of the storm are handled as usual."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from harness import Conversation, conversation

from bot import texts
from bot.cases import CaseStatus
from bot.outages import OutageConfig
from bot.state.incidents import IncidentRepository
from bot.store import Store

VPN_DOWN = "the VPN is down, I can't connect to anything"
STORM = ("peter", "samir", "joanna", "zoe", "mateo")
CONFIG = OutageConfig(window=timedelta(minutes=15), threshold=3)


async def storm(store: Store) -> Conversation:
    return await conversation(store, outage=CONFIG)


def known(desk: Conversation, who: str) -> bool:
    return any("IT already knows about this problem" in t for t in desk.dm_texts(who))


async def test_reports_of_one_outage_become_one_incident_and_everyone_is_told(
    store: Store,
) -> None:
    desk = await storm(store)
    for who in STORM[:2]:
        await desk.say(who, VPN_DOWN)  # below the threshold: handled as usual
    assert not any(known(desk, who) for who in STORM[:2])
    await desk.say("nina", "I'm locked out of my account")  # in the middle of it, unrelated
    for who in STORM[2:]:
        await desk.say(who, VPN_DOWN)
    told = [who for who in STORM if known(desk, who)]
    assert told == list(STORM), [(who, desk.dm_texts(who)) for who in STORM]  # the first two too
    (incident,) = await IncidentRepository(store).open_ones()
    assert incident.intent == "vpn_issue"
    outage_tickets = [
        t for who in STORM for t in await desk.world.tickets.of_requester(who)
        if t.summary.startswith("Outage")
    ]  # fmt: skip
    assert [t.id for t in outage_tickets] == [incident.ticket_id]
    thread = desk.chat.thread(incident.id)
    assert len(thread) == 1  # one thread, its count kept up to date in place
    assert "5 people reported it" in thread[0].latest.text
    for who in STORM[2:]:
        assert (await desk.case(who)).status == CaseStatus.ANSWERED
    assert (await desk.case("nina")).status == CaseStatus.VERIFYING  # its own case, as usual

    said = await desk.command("tom", f"/itdesk outage close {incident.id}")
    assert texts.say("outage.closed", incident=incident.id) in desk.said(said)
    fixed = texts.say("outage.resolved", what=texts.say("outage.service.vpn_issue"))
    assert [who for who in STORM if fixed in desk.dm_texts(who)] == list(STORM)
    assert "Closed" in desk.chat.thread(incident.id)[0].latest.text
    ticket = await desk.world.tickets.get(incident.ticket_id)
    assert ticket is not None
    assert ticket.status == "resolved"
    assert await IncidentRepository(store).open_ones() == []


async def test_a_person_reporting_twice_counts_once_and_other_problems_stay_apart(
    store: Store,
) -> None:
    desk = await storm(store)
    await desk.say("peter", VPN_DOWN)
    await desk.say("peter", "still no VPN here, it's down")
    await desk.say("samir", "the printer on floor 2 is broken")
    assert await IncidentRepository(store).open_ones() == []  # one person, two problems
    assert not known(desk, "peter")


async def test_racing_reports_open_exactly_one_incident(store: Store) -> None:
    incidents = IncidentRepository(store)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    reports = await asyncio.gather(*(
        incidents.report("vpn_issue:", f"p{n}", f"C-{n}", now=now, window_s=900, threshold=3)
        for n in range(20)
    ))  # fmt: skip
    opened = [r for r in reports if r.outcome == "opened"]
    assert len(opened) == 1
    assert {r.incident for r in reports if r.incident} == {opened[0].incident}
    assert [r.outcome for r in reports].count("counted") == 2
    assert len(await incidents.reporters(opened[0].incident or "")) == 20


async def test_reports_outside_the_window_do_not_add_up(store: Store) -> None:
    incidents = IncidentRepository(store)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for n in range(4):
        when = start + timedelta(minutes=20 * n)  # one every 20 minutes, window 15
        reported = await incidents.report("vpn_issue:", f"p{n}", f"C-{n}", now=when,
                                          window_s=900, threshold=2)  # fmt: skip
        assert reported.outcome == "counted"


async def test_questions_about_a_service_are_not_an_outage(store: Store) -> None:
    desk = await storm(store)
    for who in STORM:
        await desk.say(who, "how do I set up the VPN on my new laptop?")
    assert await IncidentRepository(store).open_ones() == []
    assert not any(known(desk, who) for who in STORM)
    statuses = {(await desk.case(who)).status for who in STORM}
    assert statuses == {CaseStatus.ANSWERED}  # each got the runbook


async def test_an_admin_declares_merges_and_closes_outages_from_chat(store: Store) -> None:
    desk = await storm(store)
    said = await desk.command("tom", "/itdesk outage declare the VPN is down")
    (vpn,) = await IncidentRepository(store).open_ones()
    assert texts.say("outage.declared", incident=vpn.id) in desk.said(said)
    await desk.say("peter", VPN_DOWN)  # the first report is told at once
    assert known(desk, "peter")
    refused = await desk.command("tom", "/itdesk outage declare lunch menu")
    assert desk.said(refused) == [texts.say("outage.not_a_service", words="lunch menu")]

    for who in ("samir", "joanna", "zoe"):  # the same failure, read as the network's
        await desk.say(who, "the wifi is down on the whole floor")
    wifi = next(i for i in await IncidentRepository(store).open_ones() if i.id != vpn.id)
    said = await desk.command("tom", f"/itdesk outage merge {wifi.id} into {vpn.id}")
    assert texts.say("outage.merged", incident=wifi.id, into=vpn.id) in desk.said(said)
    await desk.say("mateo", "wifi is down here too")  # joins the one it was merged into
    assert known(desk, "mateo")
    assert [i.id for i in await IncidentRepository(store).open_ones()] == [vpn.id]

    await desk.command("tom", f"/itdesk outage close {vpn.id}")
    fixed = texts.say("outage.resolved", what=texts.say("outage.service.vpn_issue"))
    assert [w for w in STORM if fixed in desk.dm_texts(w)] == ["peter", "samir", "joanna",
                                                                "zoe", "mateo"]  # fmt: skip
    bad = await desk.command("tom", f"/itdesk outage merge {vpn.id} into {vpn.id}")
    assert desk.said(bad) == [texts.say("outage.not_merged", incident=vpn.id, into=vpn.id)]
