"""The local web chat: the desk's embedded default front end.

A page served by the desk's own aiohttp application where one can act as any person of the
sandbox org, see the desk's replies and cards, their phone (one-time codes, pushes, links)
and, for on-call and admin people, the on-call channel's escalation threads.

Like the Slack and Teams adapters it translates and nothing else: HTTP JSON in -> `Turn` ->
`Desk.handle`; effects out -> messages kept in Redis per conversation and pushed to open
pages as Server-Sent Events. It has no sign-in (pick any person) and is meant to be served on
127.0.0.1 only: a tool for trying the desk, not a production front end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from adapters.checks.sandbox import CheckClosed
from bot.models import Address, Card, Effect, Ephemeral, Person, Send, Turn, TurnKind
from bot.ports import NotFoundError
from bot.store import Store
from verification.stepup import CHECK_ANSWERED

if TYPE_CHECKING:
    from bot.desk import Desk
    from bot.world import SandboxWorld

log = structlog.get_logger("itdesk.web")

STATIC_DIR = Path(__file__).with_name("web_static")
API = "/web/api"
PLATFORM = "web"
MAX_TEXT = 4000
HISTORY_LIMIT = 300
KEEPALIVE_SECONDS = 15.0
DESK_AUTHOR = "desk"
DESK_NAME = "IT Desk"
COMMAND = "/itdesk"

_ID = r"[A-Za-z0-9_.:-]{1,100}"
EventId = Annotated[str, StringConstraints(pattern=f"^{_ID}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=100)]
_NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,100}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- what the page sees -----------------------------------------------------------------


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


# --- request bodies -----------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageIn(_Body):
    """A message typed into the chat (or into an on-call thread's reply box)."""

    text: Text
    id: EventId | None = Field(default=None, description="client event id, for retries")


class ClickIn(_Body):
    """A card button pressed, in the person's DM or (with `thread`) in an on-call thread."""

    action: Token
    ref: Token
    thread: EventId | None = None
    id: EventId | None = None


class ApiError(Exception):
    """A request the web chat refuses, with the status and a message for the page."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.extra = status, error, message, extra

    def response(self) -> web.Response:
        body = {"error": self.error, "message": self.message, **self.extra}
        return web.json_response(body, status=self.status)


B = TypeVar("B", bound=_Body)


async def _body(request: web.Request, model: type[B]) -> B:
    # A JSON content type forces a CORS preflight, which nothing answers, so another site open
    # in the same browser cannot post here; a foreign Origin is refused outright.
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise ApiError(403, "forbidden_origin", "Requests from other sites are refused.")
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "problem": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise ApiError(400, "invalid_request", summary, problems=problems) from None


def _guard(handler: Handler) -> Handler:
    """Turn an `ApiError` raised by a handler into its JSON response. (Not a middleware: the
    routes of other adapters on the same app stay untouched.)"""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()

    return guarded


# --- the adapter --------------------------------------------------------------------------


class WebChat:
    """The web chat adapter: routes on the desk's aiohttp app, and an `Outbound` that keeps
    what the desk sends in Redis and wakes the pages that show it."""

    def __init__(self, desk: Desk, world: SandboxWorld, store: Store) -> None:
        self.desk = desk
        self.world = world
        self.store = store
        self.history = History(store)
        self._live = store.key("live")
        self._closing = asyncio.Event()

    def mount(self, app: web.Application) -> None:
        """Add the page, its assets and the JSON API to `app`."""
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/", self._page),
            ("GET", f"{API}/people", self._people),
            ("GET", f"{API}/people/{{username}}/conversation", self._conversation),
            ("POST", f"{API}/people/{{username}}/messages", self._message),
            ("POST", f"{API}/people/{{username}}/clicks", self._click),
            ("GET", f"{API}/people/{{username}}/phone", self._phone),
            ("POST", f"{API}/people/{{username}}/phone/{{item}}/{{answer}}", self._push_answer),
            ("GET", f"{API}/people/{{username}}/oncall", self._oncall),
            ("POST", f"{API}/people/{{username}}/oncall/{{thread}}/messages", self._thread_reply),
            ("GET", f"{API}/people/{{username}}/events", self._events),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, _guard(handler))
        app.router.add_static("/web/static/", STATIC_DIR)
        app.on_shutdown.append(self._shutdown)

    async def _shutdown(self, app: web.Application) -> None:
        self._closing.set()  # ends open event streams so the server can stop

    # --- outbound ---------------------------------------------------------------------
    async def deliver(self, effects: Sequence[Effect]) -> None:
        """Keep what the desk sent (Send appends, Update replaces in place, Ephemeral is kept
        for its one reader) and wake the pages showing it. Addresses of other platforms are
        ignored."""
        now = self.desk.clock.now()
        for effect in effects:
            place = Place.of(effect.to)
            if place is None:
                continue
            reply = effect.reply
            reader = (effect.to.person or place.person) if isinstance(effect, Ephemeral) else None
            message = ChatMessage(id=reply.id, author=DESK_AUTHOR, author_name=DESK_NAME,
                                  text=reply.text, card=reply.card, at=now,
                                  visible_to=reader)  # fmt: skip
            if isinstance(effect, Send | Ephemeral):
                if await self.history.append(place, message):
                    await self._publish(place, message)
                continue
            found = await self.history.replace(message)
            if found is None:  # an update to a message this chat never saw: show it anew
                await self.history.append(place, message)
                found = place
            stored = await self.history.get(found, message.id)
            await self._publish(found, stored or message)
        # The desk may also have written to someone's phone; pages re-read their own.
        await self.store.redis.publish(self._live, json.dumps({"type": "phone"}))

    async def _publish(self, place: Place, message: ChatMessage) -> None:
        message_json = message.model_dump(mode="json")
        event = {"type": "message", "place": place.dump(), "message": message_json}
        await self.store.redis.publish(self._live, json.dumps(event))

    # --- inbound ----------------------------------------------------------------------
    async def _run(self, turn: Turn) -> web.Response:
        effects = await self.desk.handle(turn)
        await self.deliver(effects)
        return web.json_response({"event_id": turn.event_id, "effects": len(effects)})

    def _turn(self, person: Person, place: Place, event_id: str | None, **fields: Any) -> Turn:
        return Turn(platform=PLATFORM, event_id=event_id or uuid.uuid4().hex,
                    user_id=person.username, conversation_id=place.conversation,
                    thread=place.thread, received_at=self.desk.clock.now(),
                    **fields)  # fmt: skip

    async def _echo(self, place: Place, person: Person, event_id: str, text: str,
                    *, command: bool = False) -> None:  # fmt: skip
        """Show what the person typed in their conversation (once per client event id)."""
        message = ChatMessage(id=f"U-{event_id}", author=person.username,
                              author_name=person.name, text=text, command=command,
                              at=self.desk.clock.now())  # fmt: skip
        if await self.history.append(place, message):
            await self._publish(place, message)

    async def _message(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        body = await _body(request, MessageIn)
        place = Place(person=person.username)
        event_id = body.id or uuid.uuid4().hex
        first, _, rest = body.text.partition(" ")
        command = first == COMMAND
        await self._echo(place, person, event_id, body.text, command=command)
        if command:
            turn = self._turn(person, place, event_id, kind=TurnKind.COMMAND, text=rest.strip())
        else:
            turn = self._turn(person, place, event_id, kind=TurnKind.MESSAGE, text=body.text)
        return await self._run(turn)

    async def _click(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        body = await _body(request, ClickIn)
        place = Place(person=person.username)
        if body.thread is not None:
            place = await self._thread(person, body.thread)
        return await self._run(self._turn(person, place, body.id, kind=TurnKind.CLICK,
                                          action=body.action, ref=body.ref))  # fmt: skip

    async def _push_answer(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        answer = request.match_info["answer"]
        if answer not in {"approve", "deny"}:
            raise ApiError(404, "not_found", "A push is answered with approve or deny.")
        item = await self.world.outbox.item(request.match_info["item"])
        if item is None or item.to != person.username:
            raise ApiError(404, "unknown_item", "There is no such item on this phone.")
        if item.kind != "push" or item.ref is None:
            raise ApiError(409, "not_a_push", "Only a push can be approved or denied.")
        if item.status != "pending" or _expired(item.expires_at, self.desk.clock.now()):
            raise ApiError(409, "push_closed", f"This push is no longer open ({item.status}).")
        # The answer is recorded where a provider keeps it; the turn only tells the desk to
        # look, and the desk reads the answer from there.
        try:
            await self.world.checks.answer(item.ref, approve=answer == "approve")
        except CheckClosed:
            raise ApiError(409, "push_closed", "This push is no longer open.") from None
        except NotFoundError:  # a push no check stands behind: nothing to answer
            raise ApiError(404, "unknown_item", "There is no such item on this phone.") from None
        place = Place(person=person.username)
        return await self._run(self._turn(person, place, None, kind=TurnKind.CLICK,
                                          action=CHECK_ANSWERED, ref=item.ref))  # fmt: skip

    async def _thread_reply(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        place = await self._thread(person, request.match_info["thread"])
        body = await _body(request, MessageIn)
        event_id = body.id or uuid.uuid4().hex
        await self._echo(place, person, event_id, body.text)
        return await self._run(self._turn(person, place, event_id, kind=TurnKind.MESSAGE,
                                          text=body.text))  # fmt: skip

    # --- reads ------------------------------------------------------------------------
    async def _page(self, request: web.Request) -> web.StreamResponse:
        response = web.FileResponse(STATIC_DIR / "index.html")
        response.headers.update({
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        })  # fmt: skip
        return response

    async def _people(self, request: web.Request) -> web.StreamResponse:
        people = sorted(await self.desk.directory.people(), key=lambda p: p.name.lower())
        return web.json_response({
            "org": self.world.org.name,
            "now": self.desk.clock.now().isoformat(),
            "desk": DESK_NAME,
            "oncall_channel": self.desk.oncall_channel,
            "max_text": MAX_TEXT,
            "people": [_person_json(p) for p in people],
            "suggestions": await self._suggestions(),
        })  # fmt: skip

    async def _suggestions(self) -> list[str]:
        """Things people ask, named from this org's own catalogue (never from code)."""
        groups = [g for g in await self.desk.directory.groups() if not g.sensitive]
        apps = [s for s in await self.desk.devices.catalogue() if s.approval == "none"]
        asks = ["I'm locked out of my account"]
        if groups:
            asks.append(f"Can you add me to {groups[len(groups) // 2].name}?")
        asks.append("My VPN keeps disconnecting")
        if apps:
            asks.append(f"Please install {apps[0].name} on my laptop")
        return asks

    async def _conversation(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        messages = await self.history.messages(Place(person=person.username), person.username)
        return web.json_response({
            "person": _person_json(person),
            "messages": [m.model_dump(mode="json") for m in messages],
        })  # fmt: skip

    async def _phone(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        now = self.desk.clock.now()
        out = []
        for item in reversed(await self.world.outbox.items(person.username)):  # newest first
            expired = _expired(item.expires_at, now)
            out.append({
                **item.model_dump(mode="json", exclude={"ref", "to"}),
                "status": "expired" if expired and item.status == "pending" else item.status,
                "answerable": item.kind == "push" and item.status == "pending" and not expired,
            })  # fmt: skip
        return web.json_response({"now": now.isoformat(), "items": out})

    async def _oncall(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        self._may_see_oncall(person)
        channel = self.desk.oncall_channel
        threads = []
        for thread in await self.history.threads(channel):
            place = Place(channel=channel, thread=thread)
            messages = await self.history.messages(place, person.username)
            threads.append({"id": thread, "messages": [m.model_dump(mode="json")
                                                       for m in messages]})  # fmt: skip
        top = await self.history.messages(Place(channel=channel), person.username)
        return web.json_response({
            "channel": channel,
            "threads": threads,
            "messages": [m.model_dump(mode="json") for m in top],
        })  # fmt: skip

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events for one person's page: their DM, their phone and, for on-call
        and admin people, the on-call channel. A `ready` event says the stream is live."""
        person = await self._person(request)
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        })  # fmt: skip
        pubsub = self.store.redis.pubsub()
        await pubsub.subscribe(self._live)
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await response.prepare(request)
            await _sse(response, "ready", {"username": person.username})
            while not closing.done():
                event = await _next_live(pubsub, closing)
                if event is None:
                    await response.write(b": keepalive\n\n")
                    continue
                out = self._for_viewer(event, person)
                if out is not None:
                    await _sse(response, *out)
        except (ConnectionResetError, RedisError):
            log.debug("web.stream_closed", person=person.username)
        finally:
            closing.cancel()
            with contextlib.suppress(Exception):
                await pubsub.close()
        return response

    def _for_viewer(self, event: dict[str, Any], viewer: Person) -> tuple[str, Any] | None:
        """What a live event means to one page: (SSE event name, data), or None."""
        if event.get("type") == "phone":
            return ("phone", {})
        if event.get("type") != "message":
            return None
        place = Place(**event["place"])
        message = ChatMessage.model_validate(event["message"])
        if not message.visible_for(viewer.username):
            return None
        data = {"message": event["message"]}
        if place.person is not None:
            return ("message", data) if place.person == viewer.username else None
        if place.channel == self.desk.oncall_channel and _sees_oncall(viewer):
            return ("oncall", {"thread": place.thread, **data})
        return None

    # --- helpers ----------------------------------------------------------------------
    async def _person(self, request: web.Request) -> Person:
        username = request.match_info["username"]
        person = await self.desk.directory.person(username) if _NAME.match(username) else None
        if person is None:
            raise ApiError(
                404,
                "unknown_person",
                f"There is nobody called {username[:100]!r} in the directory.",
            )
        return person

    def _may_see_oncall(self, person: Person) -> None:
        if not _sees_oncall(person):
            raise ApiError(
                403, "not_on_call", "Only on-call and admin people are in the on-call channel."
            )

    async def _thread(self, person: Person, thread: str) -> Place:
        self._may_see_oncall(person)
        channel = self.desk.oncall_channel
        if not re.fullmatch(_ID, thread) or not await self.history.has_thread(channel, thread):
            raise ApiError(404, "unknown_thread", "There is no such thread in the channel.")
        return Place(channel=channel, thread=thread)


def _sees_oncall(person: Person) -> bool:
    return person.has_role("oncall") or person.has_role("admin")


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and now >= expires_at


def _initials(name: str) -> str:
    parts = [p for p in name.split() if p]
    return "".join(p[0] for p in (parts[:1] + parts[-1:] if len(parts) > 1 else parts)).upper()


def _person_json(person: Person) -> dict[str, Any]:
    return {
        "username": person.username,
        "name": person.name,
        "initials": _initials(person.name or person.username),
        "title": person.title,
        "department": person.department,
        "roles": list(person.roles),
        "sees_oncall": _sees_oncall(person),
    }


async def _sse(response: web.StreamResponse, event: str, data: Any) -> None:
    payload = json.dumps(data, separators=(",", ":"))
    await response.write(f"event: {event}\ndata: {payload}\n\n".encode())


async def _next_live(pubsub: PubSub, closing: asyncio.Future[Any]) -> dict[str, Any] | None:
    """The next live event, or None after a quiet keep-alive interval (or on shutdown)."""
    getter = asyncio.ensure_future(
        pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE_SECONDS)
    )
    # When the page goes away mid-wait the read fails on a closed connection; nobody needs
    # that error, but asyncio would report it as never retrieved.
    getter.add_done_callback(lambda task: task.cancelled() or task.exception())
    try:
        await asyncio.wait({getter, closing}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getter.done():
            getter.cancel()
    if not getter.done() or getter.cancelled():
        return None
    message = getter.result()  # a Redis error ends the stream; the page reconnects
    if message is None or message.get("type") != "message":
        return None
    data = json.loads(message["data"])
    return data if isinstance(data, dict) else None


__all__ = ["ChatMessage", "History", "Place", "WebChat"]
