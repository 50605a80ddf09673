"""The local web chat: the desk's embedded default front end.

A page served by the desk's own aiohttp application where one can act as any person of the
sandbox org, see the desk's replies and cards, their phone (one-time codes, pushes, links)
and, for on-call and admin people, the on-call channel's escalation threads.

Like the Slack and Teams adapters it translates and nothing else: HTTP JSON in -> `Turn` ->
the desk's `TurnHandler`; effects out -> messages kept in Redis per conversation
(`web_history`) and pushed to open pages as Server-Sent Events. What it shows of the sandbox
(the org's name, the phone) comes from `web_sandbox`. It has no sign-in (pick any person)
and is meant to be served on 127.0.0.1 only: a tool for trying the desk, not a production
front end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import structlog
from aiohttp import web
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from adapters.chat.web_history import ChatMessage, History, Place
from adapters.chat.web_requests import (
    ID,
    MAX_TEXT,
    ApiError,
    ClickIn,
    Handler,
    MessageIn,
    guard,
    read_body,
)
from adapters.chat.web_sandbox import SandboxPanel
from bot.clock import Clock
from bot.models import Effect, Ephemeral, Person, Send, Turn, TurnKind
from bot.ports import Directory
from bot.store import Store
from bot.turns import OnCallView, TurnHandler
from verification.stepup import CHECK_ANSWERED

log = structlog.get_logger("itdesk.web")

STATIC_DIR = Path(__file__).with_name("web_static")
API = "/web/api"
PLATFORM = "web"
KEEPALIVE_SECONDS = 15.0
DESK_AUTHOR = "desk"
DESK_NAME = "IT Desk"
COMMAND = "/itdesk"
_NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,100}$")


class DeskView(TurnHandler, OnCallView, Protocol):
    """The desk as the web chat sees it: turns in, effects out, and who sees the on-call
    channel."""


class WebChat:
    """The web chat adapter: routes on the desk's aiohttp app, and an `Outbound` that keeps
    what the desk sends in Redis and wakes the pages that show it."""

    def __init__(
        self,
        desk: DeskView,
        directory: Directory,
        sandbox: SandboxPanel,
        store: Store,
        *,
        clock: Clock,
        oncall_channel: str,
    ) -> None:
        self.desk = desk
        self.directory = directory
        self.sandbox = sandbox
        self.clock = clock
        self.oncall_channel = oncall_channel
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
            app.router.add_route(method, path, guard(handler))
        app.router.add_static("/web/static/", STATIC_DIR)
        app.on_shutdown.append(self._shutdown)

    async def _shutdown(self, app: web.Application) -> None:
        self._closing.set()  # ends open event streams so the server can stop

    # --- outbound ---------------------------------------------------------------------
    async def reaches(self, username: str) -> bool:
        """Everyone of the sandbox org has a conversation here, shown when they open the page
        as themselves (`Reach`)."""
        return await self.directory.person(username) is not None

    async def deliver(self, effects: Sequence[Effect]) -> None:
        """Keep what the desk sent (Send appends, Update replaces in place, Ephemeral is kept
        for its one reader) and wake the pages showing it. Addresses of other platforms are
        ignored."""
        now = self.clock.now()
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
                    thread=place.thread, received_at=self.clock.now(),
                    **fields)  # fmt: skip

    async def _echo(self, place: Place, person: Person, event_id: str, text: str,
                    *, command: bool = False) -> None:  # fmt: skip
        """Show what the person typed in their conversation (once per client event id)."""
        message = ChatMessage(id=f"U-{event_id}", author=person.username,
                              author_name=person.name, text=text, command=command,
                              at=self.clock.now())  # fmt: skip
        if await self.history.append(place, message):
            await self._publish(place, message)

    async def _message(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        body = await read_body(request, MessageIn)
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
        body = await read_body(request, ClickIn)
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
        ref = await self.sandbox.answer_push(
            person, request.match_info["item"], approve=answer == "approve"
        )
        place = Place(person=person.username)
        return await self._run(self._turn(person, place, None, kind=TurnKind.CLICK,
                                          action=CHECK_ANSWERED, ref=ref))  # fmt: skip

    async def _thread_reply(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        place = await self._thread(person, request.match_info["thread"])
        body = await read_body(request, MessageIn)
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
        people = sorted(await self.directory.people(), key=lambda p: p.name.lower())
        return web.json_response({
            "org": self.sandbox.org_name,
            "now": self.clock.now().isoformat(),
            "desk": DESK_NAME,
            "oncall_channel": self.oncall_channel,
            "max_text": MAX_TEXT,
            "people": [await self._person_json(p) for p in people],
            "suggestions": await self.sandbox.suggestions(),
        })  # fmt: skip

    async def _conversation(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        messages = await self.history.messages(Place(person=person.username), person.username)
        return web.json_response({
            "person": await self._person_json(person),
            "messages": [m.model_dump(mode="json") for m in messages],
        })  # fmt: skip

    async def _phone(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        return web.json_response(await self.sandbox.phone(person))

    async def _oncall(self, request: web.Request) -> web.StreamResponse:
        person = await self._person(request)
        await self._may_see_oncall(person)
        channel = self.oncall_channel
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
        sees_oncall = await self.desk.sees_oncall(person)
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
                out = self._for_viewer(event, person, sees_oncall=sees_oncall)
                if out is not None:
                    await _sse(response, *out)
        except (ConnectionResetError, RedisError):
            log.debug("web.stream_closed", person=person.username)
        finally:
            closing.cancel()
            with contextlib.suppress(Exception):
                await pubsub.close()
        return response

    def _for_viewer(
        self, event: dict[str, Any], viewer: Person, *, sees_oncall: bool
    ) -> tuple[str, Any] | None:
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
        if place.channel == self.oncall_channel and sees_oncall:
            return ("oncall", {"thread": place.thread, **data})
        return None

    # --- helpers ----------------------------------------------------------------------
    async def _person_json(self, person: Person) -> dict[str, Any]:
        return {
            "username": person.username,
            "name": person.name,
            "initials": _initials(person.name or person.username),
            "title": person.title,
            "department": person.department,
            "roles": list(person.roles),
            "sees_oncall": await self.desk.sees_oncall(person),
        }

    async def _person(self, request: web.Request) -> Person:
        username = request.match_info["username"]
        person = await self.directory.person(username) if _NAME.match(username) else None
        if person is None:
            raise ApiError(
                404,
                "unknown_person",
                f"There is nobody called {username[:100]!r} in the directory.",
            )
        return person

    async def _may_see_oncall(self, person: Person) -> None:
        if not await self.desk.sees_oncall(person):
            raise ApiError(
                403, "not_on_call", "Only on-call and admin people are in the on-call channel."
            )

    async def _thread(self, person: Person, thread: str) -> Place:
        await self._may_see_oncall(person)
        channel = self.oncall_channel
        if not re.fullmatch(ID, thread) or not await self.history.has_thread(channel, thread):
            raise ApiError(404, "unknown_thread", "There is no such thread in the channel.")
        return Place(channel=channel, thread=thread)


def _initials(name: str) -> str:
    parts = [p for p in name.split() if p]
    return "".join(p[0] for p in (parts[:1] + parts[-1:] if len(parts) > 1 else parts)).upper()


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
