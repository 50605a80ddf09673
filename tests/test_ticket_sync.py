"""Following the IT team's ticket system: a technician's comment on an escalated case's
ticket reaches the person in chat, an internal note and an assignment reach the on-call
thread only, a ticket resolved there resolves the case and asks whether it fixed it; each
change once, by poll or by webhook, the desk's own writes never echoed; and what is said in
chat lands on the ticket as a comment. The ticket system here is the built-in queue with a
feed a test writes to."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from harness import Conversation, conversation

from adapters.chat.recording import shown_text
from bot import texts
from bot.backends import Backends
from bot.cases import CaseStatus
from bot.ports import TicketChange, TicketChangePage, WebhookRefused
from bot.store import Store
from bot.ticket_hooks import mount_ticket_webhooks

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


class Feed:
    """Changes made in the ticket system, in order; the cursor is how many were read."""

    def __init__(self) -> None:
        self.changes: list[TicketChange] = []
        self._ids = itertools.count(1)

    def add(self, ticket_id: str, kind: str, **fields: object) -> TicketChange:
        given = {"id": f"ch-{next(self._ids)}", "ticket_id": ticket_id, "kind": kind, "at": T0}
        change = TicketChange.model_validate(given | fields)
        self.changes.append(change)
        return change

    async def changes_since(self, cursor: str | None) -> TicketChangePage:
        start = len(self.changes) if cursor is None else int(cursor)
        return TicketChangePage(changes=tuple(self.changes[start:]), cursor=str(len(self.changes)))


@pytest.fixture
def feed() -> Feed:
    return Feed()


class Hooks:
    """Webhook calls signed with a shared secret, each carrying one change as JSON."""

    secret = b"shared-secret"

    def parse(self, headers: Mapping[str, str], body: bytes) -> tuple[TicketChange, ...]:
        signed = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("X-Signature", ""), signed):
            raise WebhookRefused("bad signature")
        return (TicketChange.model_validate_json(body),)


@pytest.fixture
async def desk(store: Store, feed: Feed) -> Conversation:
    def ports(backends: Backends) -> Backends:
        return dataclasses.replace(backends, ticket_feed=feed, ticket_webhooks=Hooks())

    return await conversation(store, ports=ports)


async def escalated(desk: Conversation) -> str:
    """Joanna's flickering monitor, handed to a human: its ticket."""
    await desk.say("joanna", "my monitor flickers and then goes black")
    case = await desk.case("joanna")
    assert case.status == CaseStatus.ESCALATED
    assert case.ticket_id is not None
    sync = desk.desk.ticket_sync
    assert sync is not None
    assert await sync.poll() == 0  # the first poll: the feed starts now
    return case.ticket_id


async def poll(desk: Conversation) -> int:
    assert desk.desk.ticket_sync is not None
    return await desk.desk.ticket_sync.poll()


async def test_a_technicians_comment_reaches_the_person_once(
    desk: Conversation, feed: Feed
) -> None:
    ticket = await escalated(desk)
    comment = feed.add(ticket, "comment", by="nina@initech.test", text="Try another cable?")

    assert await poll(desk) == 1
    said = texts.say("ticket_sync.comment", name="Nina", ticket_id=ticket,
                     text="Try another cable?")  # fmt: skip
    assert desk.dm_texts("joanna")[-1] == said
    assert desk.desk.ticket_sync is not None
    assert not await desk.desk.ticket_sync.apply(comment)  # the same change by webhook
    assert desk.dm_texts("joanna").count(said) == 1


async def test_notes_and_assignments_stay_with_the_it_team(desk: Conversation, feed: Feed) -> None:
    ticket = await escalated(desk)
    before = list(desk.dm_texts("joanna"))
    feed.add(ticket, "note", by="nina", text="Asset tag 4411, replace the panel")
    feed.add(ticket, "assignee", assignee="nina")

    assert await poll(desk) == 2
    assert desk.dm_texts("joanna") == before
    thread = [m.latest.text for m in desk.chat.thread((await desk.case("joanna")).id)]
    assert (
        texts.say("ticket_sync.note", name="Nina", text="Asset tag 4411, replace the panel")
        in thread
    )
    assert texts.say("ticket_sync.assigned", name="Nina") in thread


async def test_resolved_in_the_ticket_system_resolves_the_case_and_asks(
    desk: Conversation, feed: Feed
) -> None:
    ticket = await escalated(desk)
    feed.add(ticket, "status", by="nina@initech.test", status="resolved")

    assert await poll(desk) == 1
    assert (await desk.case("joanna")).status == CaseStatus.RESOLVED
    assert texts.say("handoff.resolved", name="Nina", ticket_id=ticket) in desk.dm_texts("joanna")
    desk.button("joanna", "helpful")  # did that fix it?


async def test_the_desks_own_writes_and_unknown_tickets_are_left_alone(
    desk: Conversation, feed: Feed
) -> None:
    ticket = await escalated(desk)
    before = list(desk.dm_texts("joanna"))
    feed.add(ticket, "comment", by="itdesk", by_desk=True, text="echo of the desk")
    feed.add("INC-9999", "comment", by="nina", text="for someone else")

    assert await poll(desk) == 0
    assert desk.dm_texts("joanna") == before


async def test_what_is_said_in_chat_lands_on_the_ticket_as_a_comment(desk: Conversation) -> None:
    ticket = await escalated(desk)
    await desk.say("joanna", "it also flickers when I move the cable")

    notes = await desk.world.tickets.notes(ticket)
    public = [n.text for n in notes if n.public]
    assert any("it also flickers when I move the cable" in t for t in public)


async def test_a_signed_webhook_call_is_applied_and_a_forged_one_refused(
    desk: Conversation, feed: Feed
) -> None:
    ticket = await escalated(desk)
    assert desk.desk.ticket_sync is not None
    app = web.Application()
    mount_ticket_webhooks(app, "servicenow", desk.desk.ticket_sync)
    change = TicketChange(id="wh-1", ticket_id=ticket, kind="comment", at=T0,
                          by="nina@initech.test", text="New cable is on its way")  # fmt: skip
    body = change.model_dump_json().encode()
    signed = hmac.new(Hooks.secret, body, hashlib.sha256).hexdigest()
    before = list(desk.dm_texts("joanna"))

    async with TestClient(TestServer(app)) as http:
        forged = await http.post("/webhooks/servicenow", data=body,
                                 headers={"X-Signature": "0" * 64})  # fmt: skip
        unsigned = await http.post("/webhooks/servicenow", data=b"{not json")
        good = await http.post("/webhooks/servicenow", data=body, headers={"X-Signature": signed})
        again = await http.post("/webhooks/servicenow", data=body, headers={"X-Signature": signed})

        assert (forged.status, unsigned.status) == (401, 401)
        assert (good.status, await good.json()) == (200, {"applied": 1})
        assert (again.status, await again.json()) == (200, {"applied": 0})
    new = desk.dm_texts("joanna")[len(before) :]
    assert new == [texts.say("ticket_sync.comment", name="Nina", ticket_id=ticket,
                             text="New cable is on its way")]  # fmt: skip


class Refusing:
    """A ticket system that refuses the desk's credentials."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def open(self, ticket: object) -> object:
        raise PermissionError("401 Unauthorized: the integration user's password was rotated")


async def test_a_ticket_system_that_refuses_still_leaves_the_case_with_a_human(
    store: Store,
) -> None:
    desk = await conversation(
        store, ports=lambda b: dataclasses.replace(b, tickets=Refusing(b.tickets))
    )
    await desk.say("joanna", "my monitor flickers and then goes black")

    case = await desk.case("joanna")
    assert case.status == CaseStatus.ESCALATED
    assert not case.ticket_id
    assert texts.say("handoff.escalated_untracked", queue=texts.queue_label("hardware")) in (
        desk.dm_texts("joanna")
    )
    thread = desk.chat.thread(case.id)
    assert thread
    note = texts.say("handoff.no_ticket_note")
    assert any(note in " ".join(shown_text(m.latest)) for m in thread)
