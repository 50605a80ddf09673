"""The `Tickets` contract: open and read back, lists by requester and queue, updates kept as
history, comments for the requester and notes for the IT team, idempotent opens under a key,
NotFound and Conflict."""

from __future__ import annotations

import pytest
from backends import Backend

from bot.ports import ConflictError, NewTicket, NotFoundError

LOST = NewTicket(requester="ana", queue="security", priority="urgent", summary="Lost laptop",
                 details="on the train", case_id="C-1")  # fmt: skip


async def test_a_ticket_reads_back_as_opened(backend: Backend) -> None:
    ticket = await backend.tickets.open(LOST)
    assert ticket.model_dump(include=set(NewTicket.model_fields)) == LOST.model_dump()
    assert (ticket.status, ticket.assignee) == ("open", None)
    assert await backend.tickets.get(ticket.id) == ticket
    assert await backend.tickets.get("INC-DOES-NOT-EXIST") is None


async def test_tickets_are_listed_by_requester_and_queue_in_order(backend: Backend) -> None:
    t = backend.tickets
    first = await t.open(LOST)
    second = await t.open(NewTicket(requester="ben", queue="access", summary="Reports"))
    third = await t.open(NewTicket(requester="ana", queue="access", summary="Archive"))
    assert len({first.id, second.id, third.id}) == 3
    assert [x.id for x in await t.of_requester("ana")] == [first.id, third.id]
    assert [x.id for x in await t.in_queue("access")] == [second.id, third.id]
    assert await t.of_requester("nobody") == []


async def test_updates_read_back_and_are_kept_as_history(backend: Backend) -> None:
    t = backend.tickets
    ticket = await t.open(LOST)
    claimed = await t.update(ticket.id, status="in_progress", assignee="ben", note="on it")
    assert (claimed.status, claimed.assignee) == ("in_progress", "ben")
    assert await t.get(ticket.id) == claimed
    await t.update(ticket.id, priority="high")
    notes = await t.notes(ticket.id)
    assert notes[-2].text == "on it"
    assert notes[-2].changes == {"status": "in_progress", "assignee": "ben"}
    assert notes[-1].changes == {"priority": "high"}


async def test_a_comment_is_for_the_requester_and_a_note_for_the_it_team(
    backend: Backend,
) -> None:
    t = backend.tickets
    ticket = await t.open(LOST)
    await t.update(ticket.id, note="checked the asset register", comment="We're on it.")
    await t.update(ticket.id, comment="Found on the train: collect it at reception.")
    written = [(n.text, n.public) for n in await t.notes(ticket.id) if n.text]
    assert ("checked the asset register", False) in written
    assert written[-2:] == [("We're on it.", True),
                            ("Found on the train: collect it at reception.", True)]  # fmt: skip
    assert all(n.author is None for n in await t.notes(ticket.id))  # all the desk's own


async def test_unknown_tickets_are_not_found(backend: Backend) -> None:
    with pytest.raises(NotFoundError):
        await backend.tickets.update("INC-DOES-NOT-EXIST", status="closed")
    with pytest.raises(NotFoundError):
        await backend.tickets.notes("INC-DOES-NOT-EXIST")


async def test_opening_again_under_a_key_returns_the_first_ticket(backend: Backend) -> None:
    t = backend.tickets
    keyed = LOST.model_copy(update={"key": "C-1:escalation"})
    first = await t.open(keyed)
    assert await t.open(keyed) == first  # a retried escalation
    assert [x.id for x in await t.of_requester("ana")] == [first.id]
    with pytest.raises(ConflictError):
        await t.open(keyed.model_copy(update={"summary": "Something else"}))
    assert [x.id for x in await t.of_requester("ana")] == [first.id]
    other = await t.open(LOST.model_copy(update={"key": "C-2:escalation"}))
    assert other.id != first.id
