"""A local server that speaks enough of the Slack Web API (and Socket Mode) for the desk's
Slack adapter, over real HTTP on an ephemeral port of 127.0.0.1.

Methods: `auth.test` (with `user_id` and `bot_id`), `users.info` (with the profile e-mail),
`users.lookupByEmail`, `conversations.open` (its arguments arrive as a query string, as
slack_sdk sends them), `chat.postMessage`, `chat.update`, `chat.postEphemeral`, `views.open`
and `apps.connections.open`, whose URL leads to a WebSocket on the same server that plays
Slack's side of Socket Mode (hello, envelopes, acknowledgements, disconnect).

Like Slack, it checks the token of every call, refuses channels the bot is not in, and
refuses Block Kit that breaks Slack's limits (`invalid_blocks`), so a test that posts passes
only with blocks Slack would take. Faults are scriptable per method: answer 429 with
Retry-After, drop the connection, fail with an error, or hold calls until released. Every
call is recorded with its arguments and the time it arrived (by `clock`, which a test of
pacing sets to its virtual time)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

from .local import serve_locally

__all__ = ["Call", "FakeSlack", "Message", "SlackUserRecord", "invalid_blocks"]

TEAM_ID = "T0GLOBEX"
BOT_USER_ID = "U0ITDESK"
BOT_ID = "B0ITDESK"
APP_ID = "A0ITDESK"


@dataclass
class SlackUserRecord:
    """A member of the fake workspace."""

    id: str
    email: str | None
    name: str = ""
    team_id: str = TEAM_ID
    is_bot: bool = False
    deleted: bool = False
    email_confirmed: bool = True
    guest: bool = False  # a multi-channel guest (is_restricted)

    def dump(self) -> dict[str, Any]:
        profile: dict[str, Any] = {"real_name": self.name, "display_name": self.name}
        if self.email is not None:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name.lower().replace(" ", "."),
            "real_name": self.name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "is_email_confirmed": self.email_confirmed,
            "is_restricted": self.guest,
            "is_ultra_restricted": False,
            "profile": profile,
        }


@dataclass
class Message:
    """A message in a channel as it now reads, with how many times it was edited."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    edits: int = 0

    def buttons(self) -> list[dict[str, Any]]:
        return [
            element
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block["elements"]
            if element.get("type") == "button"
        ]

    def button(self, label: str) -> dict[str, Any]:
        found = [b for b in self.buttons() if b["text"]["text"] == label]
        assert found, f"no {label!r} button in {[b['text']['text'] for b in self.buttons()]}"
        return found[0]

    def words(self) -> str:
        """Everything a person could read in the message."""
        parts = [self.text]
        for block in self.blocks:
            parts.append(json.dumps(block, ensure_ascii=False))
        return "\n".join(parts)


@dataclass(frozen=True)
class Call:
    """One Web API call as the server received it."""

    method: str
    args: dict[str, Any]
    token: str
    at: float


@dataclass
class _Fault:
    kind: str  # "429", "drop", "error"
    times: int
    retry_after: int = 1
    error: str = ""
    skip: int = 0  # calls let through before this fault starts


@dataclass
class _Socket:
    ws: web.WebSocketResponse
    number: int


@dataclass
class FakeSlack:
    """The fake Slack on an ephemeral port; `async with` starts and stops it."""

    users: list[SlackUserRecord]
    bot_token: str = "xoxb-test-token"
    app_token: str = "xapp-test-token"
    channels: dict[str, bool] = field(default_factory=dict)  # channel id -> the bot is in it
    api_url: str = ""
    calls: list[Call] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic  # when a call arrived (`Call.at`)
    _faults: dict[str, deque[_Fault]] = field(default_factory=dict)
    _holds: dict[str, asyncio.Event] = field(default_factory=dict)
    _held: dict[str, asyncio.Event] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _sockets: list[_Socket] = field(default_factory=list)
    _socket_opened: asyncio.Condition = field(default_factory=asyncio.Condition)
    _acked: asyncio.Condition = field(default_factory=asyncio.Condition)
    _posted: asyncio.Condition = field(default_factory=asyncio.Condition)

    # --- life -----------------------------------------------------------------------
    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link", self._link)
        self._runner, base = await serve_locally(app)
        self.api_url = f"{base}/api/"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for event in self._holds.values():
            event.set()
        for socket in self._sockets:
            await socket.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- scripting ------------------------------------------------------------------
    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1, skip: int = 0) -> None:
        """Answer the next `times` calls of `method` with 429 and Retry-After (after letting
        `skip` calls through; scripted faults follow one another)."""
        fault = _Fault("429", times, retry_after, skip=skip)
        self._faults.setdefault(method, deque()).append(fault)

    def drop(self, method: str, times: int = 1) -> None:
        """Close the connection on the next `times` calls of `method`, answering nothing."""
        self._faults.setdefault(method, deque()).append(_Fault("drop", times))

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `{"ok": false, "error": error}`."""
        self._faults.setdefault(method, deque()).append(_Fault("error", times, error=error))

    def hold(self, method: str) -> asyncio.Event:
        """Hold every call of `method` until the returned event is set."""
        self._holds[method] = asyncio.Event()
        self._held[method] = asyncio.Event()
        return self._holds[method]

    async def held(self, method: str) -> None:
        """Wait until a call of a held method has arrived."""
        await self._held[method].wait()

    # --- reading --------------------------------------------------------------------
    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def dm_channel(self, user_id: str) -> str:
        return "D" + user_id[1:]

    def in_channel(self, channel: str, thread_ts: str | None = None) -> list[Message]:
        """Top-level messages of a channel, or the replies of one thread."""
        return [m for m in self.messages if m.channel == channel and m.thread_ts == thread_ts]

    async def wait_for_messages(self, channel: str, count: int) -> list[Message]:
        """Wait until `channel` has at least `count` top-level messages (for an app whose
        background work a test cannot await directly)."""
        async with self._posted:
            await self._posted.wait_for(lambda: len(self.in_channel(channel)) >= count)
        return self.in_channel(channel)

    async def wait_for_posts(self, count: int) -> None:
        """Wait until at least `count` messages have been posted, anywhere."""
        async with self._posted:
            await self._posted.wait_for(lambda: len(self.messages) >= count)

    def message(self, channel: str, ts: str) -> Message:
        found = [m for m in self.messages if m.channel == channel and m.ts == ts]
        assert found, f"no message {ts} in {channel}"
        return found[0]

    # --- the Web API ----------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(dict(await request.post()))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.calls.append(Call(method, args, token, self.clock()))
        if method in self._holds:
            self._held[method].set()
            await self._holds[method].wait()
        fault = self._next_fault(method)
        if fault is not None:
            if fault.kind == "429":
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(fault.retry_after)},
                )
            if fault.kind == "drop":
                assert request.transport is not None
                request.transport.close()
                raise web.HTTPServiceUnavailable  # never written: the connection is gone
            return web.json_response(_error(fault.error))
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != wanted:
            return web.json_response(_error("invalid_auth"))
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response(_error("unknown_method"))
        answer: dict[str, Any] = await handler(args, request)
        return web.json_response(answer)

    def _next_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        if fault.skip > 0:
            fault.skip -= 1
            return None
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    async def _auth_test(self, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://globex.slack.com/",
            "team": "Globex",
            "user": "itdesk",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "is_enterprise_install": False,
        }

    async def _users_info(self, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        user = next((u for u in self.users if u.id == args.get("user")), None)
        return _error("user_not_found") if user is None else {"ok": True, "user": user.dump()}

    async def _users_lookupByEmail(  # noqa: N802 (Slack's method name)
        self, args: dict[str, Any], request: web.Request
    ) -> dict[str, Any]:
        email = str(args.get("email", "")).lower()
        user = next((u for u in self.users if u.email and u.email.lower() == email), None)
        if user is None or user.deleted:
            return _error("users_not_found")
        return {"ok": True, "user": user.dump()}

    async def _conversations_open(
        self, args: dict[str, Any], request: web.Request
    ) -> dict[str, Any]:
        if "users" not in request.query:
            return _error("invalid_arguments")  # slack_sdk sends them as a query string
        users = str(args["users"]).split(",")
        if len(users) != 1 or not any(u.id == users[0] for u in self.users):
            return _error("user_not_found")
        channel = self.dm_channel(users[0])
        self.channels[channel] = True
        return {"ok": True, "channel": {"id": channel}}

    def _reachable(self, channel: str) -> str | None:
        if channel.startswith("D"):
            return None if channel in self.channels else "channel_not_found"
        if channel not in self.channels:
            return "channel_not_found"
        return None if self.channels[channel] else "not_in_channel"

    async def _chat_postMessage(  # noqa: N802
        self, args: dict[str, Any], request: web.Request
    ) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if problem := self._reachable(channel):
            return _error(problem)
        blocks = _blocks(args.get("blocks"))
        text = str(args.get("text") or "")
        if not text and not blocks:
            return _error("no_text")
        if problem := invalid_blocks(blocks):
            return _error("invalid_blocks", problem)
        thread_ts = args.get("thread_ts")
        if thread_ts and not any(
            m.channel == channel and m.ts == thread_ts and m.thread_ts is None
            for m in self.messages
        ):
            return _error("thread_not_found")
        ts = f"1772442000.{next(self._ts):06d}"
        message = Message(channel, ts, text, blocks, str(thread_ts) if thread_ts else None)
        async with self._posted:
            self.messages.append(message)
            self._posted.notify_all()
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": text, "ts": ts}}

    async def _chat_update(self, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        found = [m for m in self.messages if m.channel == channel and m.ts == ts]
        if not found:
            return _error("message_not_found")
        blocks = _blocks(args.get("blocks"))
        if problem := invalid_blocks(blocks):
            return _error("invalid_blocks", problem)
        message = found[0]
        message.text = str(args.get("text") or message.text)
        message.blocks = blocks
        message.edits += 1
        return {"ok": True, "channel": channel, "ts": ts, "text": message.text}

    async def _chat_postEphemeral(  # noqa: N802
        self, args: dict[str, Any], request: web.Request
    ) -> dict[str, Any]:
        channel, user = str(args.get("channel", "")), str(args.get("user", ""))
        if problem := self._reachable(channel):
            return _error(problem)
        if channel.startswith("D") and channel != self.dm_channel(user):
            return _error("user_not_in_channel")
        blocks = _blocks(args.get("blocks"))
        if problem := invalid_blocks(blocks):
            return _error("invalid_blocks", problem)
        ts = f"1772442000.{next(self._ts):06d}"
        self.ephemerals.append(
            {"channel": channel, "user": user, "text": args.get("text"), "blocks": blocks}
        )
        return {"ok": True, "message_ts": ts}

    async def _views_open(self, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not args.get("trigger_id") or not isinstance(view, dict):
            return _error("invalid_arguments")
        if problem := invalid_blocks(view.get("blocks", []), limit=100):
            return _error("invalid_blocks", problem)
        view_id = f"V{next(self._ts):08d}"
        self.views.append({"id": view_id, "trigger_id": args["trigger_id"], **view})
        return {"ok": True, "view": {"id": view_id, "hash": "h1", **view}}

    async def _apps_connections_open(
        self, args: dict[str, Any], request: web.Request
    ) -> dict[str, Any]:
        host = request.host
        return {"ok": True, "url": f"ws://{host}/link?n={len(self._sockets) + 1}"}

    # --- Socket Mode ----------------------------------------------------------------
    async def _link(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        socket = _Socket(ws, len(self._sockets) + 1)
        self._sockets.append(socket)
        await ws.send_json({"type": "hello", "num_connections": 1})
        async with self._socket_opened:
            self._socket_opened.notify_all()
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                data = json.loads(frame.data)
                async with self._acked:
                    self.socket_acks.append(data)
                    self._acked.notify_all()
        return ws

    async def connected(self, number: int) -> None:
        """Wait until the `number`-th Socket Mode connection is open."""
        async with self._socket_opened:
            await self._socket_opened.wait_for(lambda: len(self._sockets) >= number)

    async def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Send a frame on the newest Socket Mode connection."""
        await self._sockets[-1].ws.send_json(envelope)

    async def drop_socket(self) -> None:
        """Close the newest Socket Mode connection from Slack's side, without warning."""
        await self._sockets[-1].ws.close()

    async def acked(self, envelope_id: str) -> dict[str, Any]:
        """Wait for the app's acknowledgement of an envelope."""
        async with self._acked:
            await self._acked.wait_for(
                lambda: any(a.get("envelope_id") == envelope_id for a in self.socket_acks)
            )
        return next(a for a in self.socket_acks if a.get("envelope_id") == envelope_id)


def _error(error: str, detail: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": error}
    if detail:
        body["errors"] = [detail]
    return body


def _blocks(raw: Any) -> list[dict[str, Any]]:
    if raw in (None, ""):
        return []
    blocks = json.loads(raw) if isinstance(raw, str) else raw
    assert isinstance(blocks, list)
    return blocks


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 10**9


def invalid_blocks(blocks: list[dict[str, Any]], limit: int = 50) -> str | None:
    """What breaks Slack's Block Kit limits in `blocks`, or None when Slack would take them."""
    if len(blocks) > limit:
        return f"{len(blocks)} blocks, more than {limit}"
    for number, block in enumerate(blocks):
        kind = block.get("type")
        where = f"block {number} ({kind})"
        if kind == "header":
            if block["text"]["type"] != "plain_text" or not 0 < _text_len(block["text"]) <= 150:
                return f"{where}: header text"
        elif kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                return f"{where}: neither text nor fields"
            if text is not None and not 0 < _text_len(text) <= 3000:
                return f"{where}: text longer than 3000"
            if fields and (len(fields) > 10 or any(_text_len(f) > 2000 for f in fields)):
                return f"{where}: fields"
        elif kind == "context":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 10 or any(_text_len(e) > 3000 for e in elements):
                return f"{where}: elements"
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 25:
                return f"{where}: {len(elements)} elements"
            ids = [e.get("action_id") for e in elements]
            if len(set(ids)) != len(ids):
                return f"{where}: duplicate action_id"
            for element in elements:
                if problem := _invalid_button(element):
                    return f"{where}: {problem}"
        elif kind == "input":
            element = block.get("element", {})
            if len(element.get("options", [])) > 100:
                return f"{where}: more than 100 options"
        elif kind != "divider":
            return f"{where}: unknown block type"
    return None


def _invalid_button(button: dict[str, Any]) -> str | None:
    if button.get("type") != "button":
        return "not a button"
    if not 0 < _text_len(button["text"]) <= 75:
        return "button text"
    if len(button.get("value", "")) > 2000 or len(button.get("action_id", "")) > 255:
        return "button value or action_id"
    if button.get("style") not in (None, "primary", "danger"):
        return "button style"
    confirm = button.get("confirm")
    if confirm is not None and (
        _text_len(confirm["title"]) > 100
        or _text_len(confirm["text"]) > 300
        or _text_len(confirm["confirm"]) > 30
        or _text_len(confirm["deny"]) > 30
    ):
        return "confirm dialog"
    return None
