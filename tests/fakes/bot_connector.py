"""A local Bot Connector service for tests: the part of the Bot Framework REST API (v3) the
desk calls, over real HTTP on an ephemeral port, answering JSON like the real one.

- `POST /v3/conversations`: a one-to-one chat with one member (the same conversation again
  for the same member, as Teams does) or, with `channelData.channel`, a new channel thread
  whose first message is the request's activity;
- `POST /v3/conversations/{id}/activities[/{replyToId}]`: post a message;
- `PUT /v3/conversations/{id}/activities/{activityId}`: replace one in place;
- `GET /v3/conversations/{id}/members/{userId}`: a roster member by Teams id, Entra object
  id, UPN or e-mail.

It keeps every message of every conversation (each version of an updated one) and every
request with its Authorization header and when it arrived (by `clock`). With `token` set it
refuses calls without that Bearer token, as the real service refuses calls without a valid
one; `throttle` makes it refuse posts with 429 and Retry-After, as it does a bot over its
rate limits."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BOT = {"id": "28:itdesk-bot", "name": "IT Desk"}  # the bot as activities name it
BODY = web.RequestKey("body", object)  # the parsed JSON body of a call


@dataclass(frozen=True)
class Member:
    """A Teams user in the fake tenant's roster."""

    id: str  # "29:..."
    name: str
    aad_object_id: str
    upn: str
    email: str | None = None
    role: str = "user"  # "guest" for a guest of the tenant

    def json(self, tenant_id: str) -> dict[str, Any]:
        given, _, surname = self.name.partition(" ")
        return {
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "userPrincipalName": self.upn,
            "email": self.email or self.upn,
            "givenName": given,
            "surname": surname,
            "tenantId": tenant_id,
            "userRole": self.role,
        }

    def answers_to(self, key: str) -> bool:
        key = key.lower()
        names = {self.id, self.aad_object_id, self.upn, self.email or ""}
        return key in {name.lower() for name in names}


@dataclass
class Posted:
    """A message in a conversation: every version the bot posted, newest last."""

    id: str
    conversation: str
    versions: list[dict[str, Any]]
    reply_to: str | None = None

    @property
    def latest(self) -> dict[str, Any]:
        return self.versions[-1]

    @property
    def text(self) -> str:
        return str(self.latest.get("text") or "")

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.latest.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                content: dict[str, Any] = attachment["content"]
                return content
        return None


@dataclass(frozen=True)
class Request:
    """A call the bot made."""

    method: str
    path: str
    authorization: str | None
    body: Any
    at: float = 0.0
    status: int | None = None  # set when the fake refused it (429 and the like)


@dataclass
class _Throttle:
    times: int
    retry_after: int | None
    skip: int
    status: int


@dataclass
class FakeBotConnector:
    """The fake service; `start()` it, point the bot's service URL at `url`."""

    tenant_id: str = "tenant-globex"
    team_id: str = "19:globex-it@thread.tacv2"
    token: str | None = None  # when set, the Bearer token every call must carry
    roster: dict[str, Member] = field(default_factory=dict)
    # conversation (team or channel) -> Teams ids of its members; unlisted: the whole roster
    memberships: dict[str, set[str]] = field(default_factory=dict)
    posted: dict[str, list[Posted]] = field(default_factory=dict)  # conversation -> messages
    requests: list[Request] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)  # create-conversation bodies
    member_gate: asyncio.Event | None = None  # when set, members lookups wait for it
    member_status: int | None = None  # when set, members lookups fail with this status
    clock: Callable[[], float] = time.monotonic  # when a request arrived (`Request.at`)
    _throttles: deque[_Throttle] = field(default_factory=deque)
    _posted: asyncio.Condition = field(default_factory=asyncio.Condition)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_700_000_000_001))
    _server: TestServer | None = None

    # --- life ---------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(middlewares=[self._json_errors])
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", self._send)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_get("/v3/conversations/{conversation}/members/{user}", self._member)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return str(self._server.make_url("/"))

    # --- the roster and what was posted ------------------------------------------------
    def add_member(self, member: Member) -> Member:
        self.roster[member.id] = member
        return member

    @staticmethod
    def personal_conversation(member: Member) -> str:
        """The id of a member's one-to-one chat with the bot (stable, like Teams')."""
        return f"a:{member.id}"

    def activity(
        self,
        user: str,
        *,
        text: str | None = None,
        value: Any = None,
        thread: str | None = None,
        team: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A message activity from `user` (a Teams id) to the bot, as this service posts it
        to the bot's endpoint: in the user's chat with the bot, or in a channel `thread` (of
        `team`, by default the fake's one team)."""
        team = team or self.team_id
        who = self.roster[user]
        tenant = {"id": self.tenant_id}
        if thread is None:
            conversation: dict[str, Any] = {
                "conversationType": "personal",
                "id": self.personal_conversation(who),
                "tenantId": self.tenant_id,
            }
            channel_data: dict[str, Any] = {"tenant": tenant}
        else:
            channel = thread.split(";", 1)[0]
            conversation = {
                "conversationType": "channel",
                "isGroup": True,
                "id": thread,
                "tenantId": self.tenant_id,
            }
            channel_data = {
                "tenant": tenant,
                "channel": {"id": channel},
                "team": {"id": team},
                "teamsChannelId": channel,
                "teamsTeamId": team,
            }
        activity: dict[str, Any] = {
            "type": "message",
            "id": self._next_id(),
            "timestamp": "2026-03-02T09:00:00.000Z",
            "serviceUrl": self.url,
            "channelId": "msteams",
            "from": {"id": who.id, "name": who.name, "aadObjectId": who.aad_object_id},
            "conversation": conversation,
            "recipient": dict(BOT),
            "channelData": channel_data,
            "locale": "en-GB",
            "textFormat": "plain",
        }
        if text is not None:
            activity["text"] = text
        if value is not None:
            activity["value"] = value
        return activity | extra

    def messages(self, conversation: str) -> list[Posted]:
        return list(self.posted.get(conversation, []))

    def message(self, conversation: str, activity_id: str) -> Posted:
        found = [m for m in self.posted.get(conversation, []) if m.id == activity_id]
        assert found, f"no activity {activity_id} in {conversation}"
        return found[0]

    async def wait_for_posts(self, count: int) -> None:
        """Wait until at least `count` messages have been posted, in any conversation."""
        async with self._posted:
            await self._posted.wait_for(lambda: sum(map(len, self.posted.values())) >= count)

    def calls(self, method: str, path_part: str = "") -> list[Request]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # --- handlers ------------------------------------------------------------------------
    @web.middleware
    async def _json_errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            body = await request.json() if request.can_read_body else None
        except ValueError:
            return _error(400, "BadSyntax", "The body is not JSON.")
        request[BODY] = body
        authorization = request.headers.get("Authorization")
        throttle = self._next_throttle(request)
        status = throttle.status if throttle else None
        at = self.clock()
        self.requests.append(Request(request.method, request.path, authorization, body, at, status))
        if throttle is not None:
            headers = (
                {} if throttle.retry_after is None else {"Retry-After": str(throttle.retry_after)}
            )
            return _error(throttle.status, "Throttled", "Too many requests.", headers)
        if self.token is not None and authorization != f"Bearer {self.token}":
            return _error(401, "Unauthorized", "Authorization has been denied for this request.")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return _error(exc.status, "NotFound", exc.reason)

    def throttle(
        self, times: int = 1, retry_after: int | None = 1, *, skip: int = 0, status: int = 429
    ) -> None:
        """Refuse the next `times` messages posted or replaced (after letting `skip` through)
        with `status` and Retry-After (none when `retry_after` is None), as the Bot Connector
        refuses a bot over its rate limits; scripted throttles follow one another."""
        self._throttles.append(_Throttle(times, retry_after, skip, status))

    def _next_throttle(self, request: web.Request) -> _Throttle | None:
        if not self._throttles or "/activities" not in request.path:
            return None
        throttle = self._throttles[0]
        if throttle.skip > 0:
            throttle.skip -= 1
            return None
        throttle.times -= 1
        if throttle.times <= 0:
            self._throttles.popleft()
        return throttle

    def _next_id(self) -> str:
        return str(next(self._ids))

    def _post(self, conversation: str, activity: dict[str, Any], reply_to: str | None) -> Posted:
        posted = Posted(self._next_id(), conversation, [activity], reply_to)
        self.posted.setdefault(conversation, []).append(posted)
        return posted

    async def _create(self, request: web.Request) -> web.StreamResponse:
        body = request[BODY]
        if not isinstance(body, dict):
            return _error(400, "BadSyntax", "Expected a ConversationParameters object.")
        self.created.append(body)
        channel_data = body.get("channelData") or {}
        tenant = body.get("tenantId") or (channel_data.get("tenant") or {}).get("id")
        if tenant != self.tenant_id:
            return _error(400, "BadArgument", "A tenant id of this tenant is required.")
        channel = (channel_data.get("channel") or {}).get("id")
        if body.get("isGroup") and channel:
            activity = body.get("activity")
            if not isinstance(activity, dict):
                return _error(400, "BadArgument", "A new thread needs its first activity.")
            root = self._next_id()
            thread = f"{channel};messageid={root}"
            self.posted.setdefault(thread, []).append(Posted(root, thread, [activity]))
            return web.json_response({"id": thread, "activityId": root}, status=201)
        members = body.get("members") or []
        if body.get("isGroup") or len(members) != 1:
            return _error(400, "BadSyntax", "A one-to-one chat has exactly one member.")
        member = self._find(str(members[0].get("id", "")))
        if member is None:
            return _error(404, "NotFound", "The user is not in this tenant.")
        return web.json_response({"id": self.personal_conversation(member)}, status=201)

    async def _send(self, request: web.Request) -> web.StreamResponse:
        body = request[BODY]
        if not isinstance(body, dict) or body.get("type") != "message":
            return _error(400, "BadSyntax", "Expected a message activity.")
        conversation = request.match_info["conversation"]
        posted = self._post(conversation, body, request.match_info.get("reply_to"))
        async with self._posted:
            self._posted.notify_all()
        return web.json_response({"id": posted.id}, status=201)

    async def _update(self, request: web.Request) -> web.StreamResponse:
        body = request[BODY]
        conversation = request.match_info["conversation"]
        activity_id = request.match_info["activity"]
        found = [m for m in self.posted.get(conversation, []) if m.id == activity_id]
        if not found:
            return _error(404, "ActivityNotFound", "No such activity in the conversation.")
        if not isinstance(body, dict):
            return _error(400, "BadSyntax", "Expected an activity.")
        found[0].versions.append(body)
        return web.json_response({"id": activity_id})

    async def _member(self, request: web.Request) -> web.StreamResponse:
        if self.member_gate is not None:
            await self.member_gate.wait()
        if self.member_status is not None:
            return _error(self.member_status, "Forbidden", "The bot may not read members.")
        member = self._find(request.match_info["user"])
        conversation = request.match_info["conversation"].split(";", 1)[0]
        members = self.memberships.get(conversation)
        if member is None or (members is not None and member.id not in members):
            return _error(404, "MemberNotFoundInConversation", "The member was not found.")
        return web.json_response(member.json(self.tenant_id))

    def _find(self, key: str) -> Member | None:
        return next((m for m in self.roster.values() if m.answers_to(key)), None)


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers=headers)
