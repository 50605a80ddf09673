"""What happens in ServiceNow, as the desk follows it: the feed's cursor (a first poll starts
now, same-second ties, the desk's own writes marked), and the business rules' webhook calls,
signed, refused when they are not, and carrying the same ids as the feed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from aiohttp import web
from pydantic import SecretStr
from servers.servicenow import DESK, FakeServiceNow
from servers.servicenow_rules import signed
from servicenow_instance import GROUPS, START, Sleeps, desk_tickets, instance
from waiting import until

from adapters.servicenow.feed import ServiceNowFeed
from adapters.servicenow.tickets import ServiceNowTickets
from adapters.servicenow.webhooks import ServiceNowWebhooks
from bot.clock import ManualClock
from bot.ports import NewTicket, TicketChange, WebhookRefused

SECRET = "shared-webhook-secret"
ASK = NewTicket(requester="ana", queue="access", summary="No VPN", case_id="C-3")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeServiceNow]:
    with instance(clock) as running:
        yield running


@pytest.fixture
def tickets(fake: FakeServiceNow, clock: ManualClock) -> ServiceNowTickets:
    return desk_tickets(fake, clock, Sleeps(clock))


@pytest.fixture
def feed(tickets: ServiceNowTickets) -> ServiceNowFeed:
    return tickets.feed()


@pytest.fixture
def webhooks(clock: ManualClock) -> ServiceNowWebhooks:
    return ServiceNowWebhooks(SecretStr(SECRET), integration_user=DESK, groups=GROUPS, clock=clock)


def seen(changes: tuple[TicketChange, ...]) -> list[tuple[object, ...]]:
    return [(c.kind, c.by, c.by_desk, c.text, c.status, c.assignee) for c in changes]


async def test_a_first_poll_starts_now(
    fake: FakeServiceNow, tickets: ServiceNowTickets, feed: ServiceNowFeed, clock: ManualClock
) -> None:
    ticket = await tickets.open(ASK)
    fake.comment(ticket.id, "tom", "before the desk looked")
    clock.advance(timedelta(seconds=5))
    first = await feed.changes_since(None)
    assert first.changes == ()
    assert (await feed.changes_since(first.cursor)).changes == ()


async def test_the_feed_relays_what_technicians_do_and_marks_the_desks_own(
    fake: FakeServiceNow, tickets: ServiceNowTickets, feed: ServiceNowFeed, clock: ManualClock
) -> None:
    ticket = await tickets.open(ASK)
    clock.advance(timedelta(seconds=1))
    cursor = (await feed.changes_since(None)).cursor
    clock.advance(timedelta(seconds=1))
    fake.comment(ticket.id, "tom", "Which laptop?")
    fake.comment(ticket.id, "tom", "asked the requester", internal=True)
    clock.advance(timedelta(seconds=1))
    fake.assign(ticket.id, "tom", by="tom")
    clock.advance(timedelta(seconds=1))
    await tickets.update(ticket.id, comment="Your Dell.")
    clock.advance(timedelta(seconds=1))
    fake.resolve(ticket.id, "tom")
    clock.advance(timedelta(seconds=1))
    portal = fake.open_incident("pat", "Printer jam", by="pat")
    page = await feed.changes_since(cursor)
    assert seen(page.changes) == [
        ("comment", "tom", False, "Which laptop?", None, None),
        ("note", "tom", False, "asked the requester", None, None),
        ("assignee", "tom", False, "", None, "tom"),
        ("comment", DESK, True, "Your Dell.", None, None),
        ("status", "tom", False, "", "resolved", None),
        ("opened", "pat", False, "", None, None),
    ]
    opened = next(c for c in page.changes if c.kind == "opened")
    assert opened.ticket is not None
    assert (opened.ticket_id, opened.ticket.requester, opened.ticket.summary) == (
        portal["number"], "pat", "Printer jam")  # fmt: skip
    assert {c.ticket_id for c in page.changes if c.kind != "opened"} == {ticket.id}
    status = next(c for c in page.changes if c.kind == "status")
    assert status.id == f"{incident_id(fake, ticket.id)}:state:5"  # the fifth update
    assert (await feed.changes_since(page.cursor)).changes == ()


def incident_id(fake: FakeServiceNow, number: str) -> str:
    return str(fake.run(lambda: fake.tables.incident(number)["sys_id"]))


async def test_changes_in_the_same_second_as_the_cursor_come_once(
    fake: FakeServiceNow, tickets: ServiceNowTickets, feed: ServiceNowFeed
) -> None:
    ticket = await tickets.open(ASK)
    cursor = (await feed.changes_since(None)).cursor
    fake.comment(ticket.id, "tom", "one")
    first = await feed.changes_since(cursor)
    fake.comment(ticket.id, "tom", "two")  # the clock has not moved: the same second
    second = await feed.changes_since(first.cursor)
    assert [c.text for c in first.changes] == ["one"]
    assert [c.text for c in second.changes] == ["two"]
    assert (await feed.changes_since(second.cursor)).changes == ()


# --- webhooks ---------------------------------------------------------------------------------


@pytest.fixture
async def desk_url() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """The desk's webhook endpoint: what it was sent."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def take(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks/servicenow", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/webhooks/servicenow", received
    await runner.cleanup()


async def test_the_business_rules_calls_carry_the_same_changes_as_the_feed(
    fake: FakeServiceNow,
    tickets: ServiceNowTickets,
    feed: ServiceNowFeed,
    webhooks: ServiceNowWebhooks,
    desk_url: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = desk_url
    cursor = (await feed.changes_since(None)).cursor
    fake.send_changes_to(url, SECRET)
    ticket = await tickets.open(ASK)
    fake.comment(ticket.id, "tom", "Which laptop?")
    fake.assign(ticket.id, "tom", by="tom")
    await tickets.update(ticket.id, note="desk note")
    fake.resolve(ticket.id, "tom")
    portal = fake.open_incident("pat", "Printer jam", by="pat")

    async def all_arrived() -> bool:
        return len(received) == 6  # desk's open, comment, assign, note, resolve, portal open

    await until(all_arrived)
    pushed = [c for headers, body in received for c in webhooks.parse(headers, body)]
    polled = (await feed.changes_since(cursor)).changes
    assert sorted(c.id for c in pushed if not (c.kind == "opened" and c.by_desk)) == sorted(
        c.id for c in polled
    )
    by_id = {c.id: c for c in polled}
    for change in pushed:
        if change.id in by_id:
            assert change.model_dump(exclude={"ticket"}) == by_id[change.id].model_dump(
                exclude={"ticket"}
            )
    opened = next(c for c in pushed if c.ticket_id == portal["number"])
    assert opened.ticket == next(c for c in polled if c.kind == "opened").ticket


@pytest.mark.parametrize(
    "tamper",
    ["unsigned", "wrong secret", "changed body", "stale", "no timestamp"],
)
def test_a_call_not_signed_by_the_business_rule_is_refused(
    webhooks: ServiceNowWebhooks, clock: ManualClock, tamper: str
) -> None:
    event = {"table": "sys_journal_field", "number": "INC0010001", "entry": {
        "sys_id": "j1", "element": "comments", "element_id": "i1", "value": "hi",
        "sys_created_on": "2026-12-04 10:00:00", "sys_created_by": "tom"}}  # fmt: skip
    stamp = str(int(clock.now().timestamp()))
    headers, body = signed(SECRET, stamp, event)
    assert webhooks.parse(headers, body)[0].text == "hi"  # as the rule signs it
    if tamper == "wrong secret":
        headers, body = signed("not-the-secret", stamp, event)
    if tamper == "unsigned":
        del headers["X-Itdesk-Signature"]
    if tamper == "no timestamp":
        del headers["X-Itdesk-Timestamp"]
    if tamper == "changed body":
        body = body.replace(b'"hi"', b'"ho"')
    if tamper == "stale":
        clock.advance(timedelta(minutes=6))
    with pytest.raises(WebhookRefused):
        webhooks.parse(headers, body)


def test_a_signed_body_that_is_not_a_change_is_refused(
    webhooks: ServiceNowWebhooks, clock: ManualClock
) -> None:
    stamp = str(int(clock.now().timestamp()))
    for event in ({"table": "incident"}, {"table": "change_request", "record": {}}):
        headers, body = signed(SECRET, stamp, event)
        with pytest.raises(WebhookRefused):
            webhooks.parse(headers, body)
    headers, _ = signed(SECRET, stamp, {})
    with pytest.raises(WebhookRefused, match="signature"):  # checked before the body is read
        webhooks.parse(headers, b"not json")
    assert json.loads(signed(SECRET, stamp, {"a": 1})[1]) == {"a": 1}


def test_the_webhook_is_built_from_the_settings(fake: FakeServiceNow, clock: ManualClock) -> None:
    from bot.settings_tickets import TicketSettings

    settings = TicketSettings.model_validate(fake.settings(groups=GROUPS))
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        ServiceNowWebhooks.from_settings(settings, clock=clock)
    keyed = settings.model_copy(update={"servicenow_webhook_secret": SecretStr(SECRET)})
    built = ServiceNowWebhooks.from_settings(keyed, clock=clock)
    entry = {"sys_id": "j", "element": "work_notes", "element_id": "i", "value": "x",
             "sys_created_on": "2026-12-04 10:00:00", "sys_created_by": DESK}  # fmt: skip
    event = {"table": "sys_journal_field", "number": "INC1", "entry": entry}
    headers, body = signed(SECRET, str(int(clock.now().timestamp())), event)
    assert built.parse(headers, body)[0].by_desk
    assert SECRET not in repr(built)
