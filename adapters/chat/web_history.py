"""What the web chat keeps of its conversations: each message as the page shows it, where
it lives (a person's DM with the desk, or a case's thread in a channel), and the history of
every place in Redis."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bot.models import Address, Card
from bot.store import Store

HISTORY_LIMIT = 300


class ChatMessage(BaseModel):
    """One message as the page shows it: from the desk or from a person, with its card."""

    model_config = ConfigDict(extra="forbid")

    id: str
    author: str  # "desk" or the username of the person who wrote it
    author_name: str
    text: str = ""
    card: Card | None = None
    command: bool = False  # an "/itdesk ..." command the person typed
    at: datetime
    edited_at: datetime | None = None
    visible_to: str | None = None  # an ephemeral message: only this person sees it

    def visible_for(self, username: str) -> bool:
        return self.visible_to is None or self.visible_to == username


@dataclass(frozen=True)
class Place:
    """Where a message lives: a person's DM with the desk, or a channel (optionally the thread
    of a case in it)."""

    person: str | None = None
    channel: str | None = None
    thread: str | None = None

    @property
    def conversation(self) -> str:
        """The web chat's conversation id, as the desk sees it in `Turn.conversation_id`."""
        return f"dm:{self.person}" if self.person is not None else f"channel:{self.channel}"

    @property
    def key(self) -> str:
        return self.conversation + (f":thread:{self.thread}" if self.thread else "")

    def dump(self) -> dict[str, str | None]:
        return {"person": self.person, "channel": self.channel, "thread": self.thread}

    @classmethod
    def of(cls, to: Address) -> Place | None:
        """The place an effect's address names, or None when the web chat cannot reach it (a
        conversation of another platform)."""
        if to.conversation is not None:
            kind, _, name = to.conversation.partition(":")
            if kind == "dm" and name:
                return cls(person=name)
            if kind == "channel" and name:
                return cls(channel=name, thread=to.thread)
            return None
        if to.channel:
            return cls(channel=to.channel, thread=to.thread)
        if to.person:
            return cls(person=to.person)
        return None


class History:
    """Each conversation's messages in Redis: a list of message ids in order and a hash of the
    messages, plus an index from message id to place so that an update finds its message
    wherever the desk addressed it, and the threads of each channel in order of creation."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._redis = store.redis

    def _order(self, place: Place) -> str:
        return self._store.key("conv", place.key, "order")

    def _messages(self, place: Place) -> str:
        return self._store.key("conv", place.key, "messages")

    def _threads(self, channel: str) -> str:
        return self._store.key("threads", channel)

    async def append(self, place: Place, message: ChatMessage) -> bool:
        """Add a message at the end; False when a message with that id is already there (a
        retried send), in which case nothing changes."""
        if not await self._redis.hsetnx(self._messages(place), message.id,
                                        message.model_dump_json()):  # fmt: skip
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self._order(place), message.id)
            pipe.hset(self._store.key("index"), message.id, json.dumps(place.dump()))
            if place.channel is not None and place.thread:
                pipe.zadd(self._threads(place.channel), {place.thread: message.at.timestamp()},
                          nx=True)  # fmt: skip
            await pipe.execute()
        return True

    async def replace(self, message: ChatMessage) -> Place | None:
        """Replace a message in place, keeping its position and first timestamp; None when no
        message has that id."""
        raw = await self._redis.hget(self._store.key("index"), message.id)
        if raw is None:
            return None
        place = Place(**json.loads(raw))
        old = await self._redis.hget(self._messages(place), message.id)
        if old is None:
            return None
        first = ChatMessage.model_validate_json(old)
        message = message.model_copy(update={"at": first.at, "edited_at": message.at})
        await self._redis.hset(self._messages(place), message.id, message.model_dump_json())
        return place

    async def get(self, place: Place, message_id: str) -> ChatMessage | None:
        raw = await self._redis.hget(self._messages(place), message_id)
        return None if raw is None else ChatMessage.model_validate_json(raw)

    async def messages(self, place: Place, viewer: str) -> list[ChatMessage]:
        """The latest messages of a place that `viewer` may see, oldest first."""
        ids = await self._redis.lrange(self._order(place), -HISTORY_LIMIT, -1)
        if not ids:
            return []
        raws = await self._redis.hmget(self._messages(place), ids)
        found = (ChatMessage.model_validate_json(raw) for raw in raws if raw is not None)
        return [m for m in found if m.visible_for(viewer)]

    async def threads(self, channel: str) -> list[str]:
        """A channel's thread ids (case ids), newest first."""
        members = await self._redis.zrevrange(self._threads(channel), 0, HISTORY_LIMIT - 1)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def has_thread(self, channel: str, thread: str) -> bool:
        return await self._redis.zscore(self._threads(channel), thread) is not None
