"""The built-in ticket queue, in Redis: for teams without ServiceNow or Jira, and for the
sandbox. Ids are `INC-0001`, `INC-0002`... per namespace; every change is kept as a note."""

from __future__ import annotations

from datetime import timedelta

from adapters.records import JsonRecords, text
from bot.clock import Clock
from bot.models import Priority, Queue
from bot.ports import ConflictError, NewTicket, NotFoundError, Ticket, TicketNote, TicketStatus
from bot.store import Store

KEY_CLAIM = timedelta(minutes=1)


class BuiltinTickets:
    """The `Tickets` port over Redis, indexed by requester and by queue."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store.child("tickets")
        self._clock = clock
        self._tickets = JsonRecords(self._store, "ticket", Ticket)

    async def open(self, ticket: NewTicket) -> Ticket:
        redis = self._store.redis
        number = int(await redis.incr(self._store.key("seq")))
        now = self._clock.now()
        opened = Ticket(
            id=f"INC-{number:04d}", created_at=now, updated_at=now, **ticket.model_dump()
        )
        # The key is claimed before the ticket is written, so two openers racing under one
        # key cannot both open one; the claim lapses unless the ticket is written, so an
        # opener that died in between does not hold the key for ever.
        if ticket.key is not None and not await redis.set(
            self._store.key("key", ticket.key), opened.id, nx=True, ex=KEY_CLAIM
        ):
            return await self._opened_under(ticket.key, ticket)
        note = TicketNote(at=now, text="opened", changes={"status": opened.status})
        async with redis.pipeline(transaction=True) as pipe:
            self._tickets.stage(pipe, opened.id, opened)
            pipe.rpush(self._store.key("requester", opened.requester), opened.id)
            pipe.rpush(self._store.key("queue", opened.queue), opened.id)
            pipe.rpush(self._store.key("notes", opened.id), note.model_dump_json())
            if ticket.key is not None:
                pipe.set(self._store.key("key", ticket.key), opened.id)  # for good now
            await pipe.execute()
        return opened

    async def _opened_under(self, key: str, ticket: NewTicket) -> Ticket:
        first_id = await self._store.redis.get(self._store.key("key", key))
        first = None if first_id is None else await self._tickets.get(text(first_id))
        if first is None:
            raise ConflictError(f"a ticket under key {key!r} is being opened")
        asked = first.model_dump(include=set(NewTicket.model_fields))
        if NewTicket.model_validate(asked) != ticket:
            raise ConflictError(f"key {key!r} already opened {first.id}, another ticket")
        return first

    async def get(self, ticket_id: str) -> Ticket | None:
        return await self._tickets.get(ticket_id)

    async def update(
        self,
        ticket_id: str,
        *,
        status: TicketStatus | None = None,
        assignee: str | None = None,
        priority: Priority | None = None,
        note: str | None = None,
        comment: str | None = None,
    ) -> Ticket:
        """Change the given fields; the change, the note and the comment are appended to the
        history."""
        now = self._clock.now()
        given = {"status": status, "assignee": assignee, "priority": priority}
        wanted = {field: value for field, value in given.items() if value is not None}
        changes: dict[str, str] = {}

        def change(current: Ticket) -> Ticket:
            changes.clear()  # may run again after a concurrent write
            changes.update({f: v for f, v in wanted.items() if getattr(current, f) != v})
            if not changes and not note and not comment:
                return current
            return current.model_copy(update={**changes, "updated_at": now})

        updated = await self._tickets.update(ticket_id, change)
        entries = []
        if changes or note:
            entries.append(TicketNote(at=now, text=note or "", changes=changes))
        if comment:
            entries.append(TicketNote(at=now, text=comment, public=True))
        if entries:
            await self._store.redis.rpush(
                self._store.key("notes", ticket_id), *(e.model_dump_json() for e in entries)
            )
        return updated

    async def of_requester(self, username: str) -> list[Ticket]:
        return await self._listed(self._store.key("requester", username))

    async def in_queue(self, queue: Queue) -> list[Ticket]:
        return await self._listed(self._store.key("queue", queue))

    async def notes(self, ticket_id: str) -> list[TicketNote]:
        """The ticket's history, oldest first."""
        if await self._tickets.get(ticket_id) is None:
            raise NotFoundError("ticket", ticket_id)
        raw = await self._store.redis.lrange(self._store.key("notes", ticket_id), 0, -1)
        return [TicketNote.model_validate_json(text(entry)) for entry in raw]

    async def _listed(self, index: str) -> list[Ticket]:
        ids = await self._store.redis.lrange(index, 0, -1)
        return await self._tickets.many(map(text, ids))
