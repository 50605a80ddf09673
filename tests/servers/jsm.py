"""A stateful fake Jira Service Management site for the tests (`servers.jsm_state`), served
by aiohttp on 127.0.0.1 at an ephemeral port in its own thread, speaking the servicedesk and
platform REST calls the desk makes, behind basic auth as the desk's account.

For the tests: `forbid` answers 403 under a path, `throttle` answers 429 with `Retry-After`,
`lose_answers` applies writes and drops their answers; a technician (`comment`, `transition`,
`assign`, `raise_request`) works on requests as an agent or customer, each change sent as a
signed Jira webhook (`webhooks`, and POSTed to `webhook_url` when set); `exchanges` holds
every call."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from servers.jsm_routes import JsmRoutes
from servers.jsm_state import Issue, JsmSiteState
from servers.threaded import ThreadedApp

DESK_EMAIL = "itdesk@example.test"
API_TOKEN = "ATATT3xFfGF0-fake-token"
WEBHOOK_SECRET = "whsec-fake-jira"
Next = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int


def _error(status: int, message: str, servicedesk: bool) -> web.Response:
    body: dict[str, Any] = (
        {"errorMessage": message, "i18nErrorMessage": {"i18nKey": "x"}}
        if servicedesk
        else {"errorMessages": [message], "errors": {}}
    )
    return web.json_response(body, status=status)


@dataclass
class FakeJsm:
    now: Callable[[], datetime]
    page_size: int = 2
    webhook_url: str | None = None
    state: JsmSiteState = field(init=False)
    desk: str = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    exchanges: list[Exchange] = field(default_factory=list)
    webhooks: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    forbidden: str | None = None
    throttled: int = 0
    losing: int = 0
    losing_under: str = "/"
    _server: ThreadedApp | None = None
    _last: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))

    def __post_init__(self) -> None:
        self.state = JsmSiteState(self._tick)
        self.desk = self.state.add_user(DESK_EMAIL, "IT desk")

    def _tick(self) -> datetime:
        # Jira's timestamps have milliseconds: two changes never share one here
        self._last = max(self.now(), self._last + timedelta(milliseconds=1))
        return self._last

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def start(self) -> FakeJsm:
        self._server = ThreadedApp(self.app())
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    # --- what tests do ------------------------------------------------------------------

    def add_user(self, email: str, name: str) -> str:
        with self.lock:
            return self.state.add_user(email, name)

    def forbid(self, path_start: str | None) -> None:
        self.forbidden = path_start

    def throttle(self, calls: int) -> None:
        with self.lock:
            self.throttled = calls

    def lose_answers(self, writes: int, path_start: str = "/") -> None:
        """Apply the next `writes` writes under `path_start` and drop their answers."""
        with self.lock:
            self.losing, self.losing_under = writes, path_start

    def seen(self, method: str, path_start: str) -> list[Exchange]:
        with self.lock:
            return [e for e in self.exchanges
                    if e.method == method and e.path.startswith(path_start)]  # fmt: skip

    def comment(self, key: str, text: str, *, public: bool, by: str) -> str:
        """An agent (or the customer, `by` an e-mail) comments; the comment's id."""
        with self.lock:
            issue = self.state.issues[key]
            made = self.state.comment(issue, self.state.account(by), text, public)
            comment = self.state.platform_comment(made)
            self._hook("comment_created", issue, by, comment=comment)
            return str(made["id"])

    def transition(self, key: str, status_id: str, *, by: str) -> str:
        with self.lock:
            issue = self.state.issues[key]
            history = self.state.transition(issue, self.state.account(by), status_id)
            self._hook("jira:issue_updated", issue, by, changelog=history)
            return f"{issue.id}:{history['id']}:status"

    def assign(self, key: str, email: str | None, *, by: str) -> str:
        with self.lock:
            issue = self.state.issues[key]
            account = self.state.account(email) if email else None
            history = self.state.assign(issue, self.state.account(by), account)
            self._hook("jira:issue_updated", issue, by, changelog=history)
            return f"{issue.id}:{history['id']}:assignee"

    def raise_request(self, email: str, summary: str, type_id: str = "11") -> str:
        """A customer raises a request in the portal; its key."""
        with self.lock:
            issue = self.state.create(type_id, self.state.account(email), summary, "")
            self._hook("jira:issue_created", issue, email)
            return issue.key

    def _hook(self, event: str, issue: Issue, by: str, **extra: Any) -> None:
        user = self.state.user(self.state.account(by))
        payload: dict[str, Any] = {"timestamp": int(self.now().timestamp() * 1000),
                                   "webhookEvent": event, "user": user,
                                   "issue": self.state.issue_json(issue, "*all")}  # fmt: skip
        if "changelog" in extra:
            history = extra["changelog"]
            payload["changelog"] = {"id": history["id"], "items": history["items"]}
        if "comment" in extra:
            payload["comment"] = extra["comment"]
        body = json.dumps(payload).encode()
        digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature": f"sha256={digest}",
                   "X-Atlassian-Webhook-Identifier": str(len(self.webhooks) + 1)}  # fmt: skip
        self.webhooks.append((headers, body))

    async def deliver(self) -> None:
        """POST every webhook not yet sent to `webhook_url`, as Jira does."""
        assert self.webhook_url is not None
        async with aiohttp.ClientSession() as session:
            for headers, body in list(self.webhooks):
                async with session.post(self.webhook_url, data=body, headers=headers) as r:
                    await r.read()

    # --- the server ---------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._recorded, self._guarded, self._lossy])
        JsmRoutes(self.state, self.lock, self.page_size, self.desk).register(app)
        return app

    @web.middleware
    async def _recorded(self, request: web.Request, handler: Next) -> web.StreamResponse:
        body = await request.read()
        response = await handler(request)
        with self.lock:
            self.exchanges.append(
                Exchange(
                    request.method,
                    request.path,
                    dict(request.query),
                    dict(request.headers),
                    body,
                    response.status,
                )
            )
        return response

    @web.middleware
    async def _guarded(self, request: web.Request, handler: Next) -> web.StreamResponse:
        desk = request.path.startswith("/rest/servicedeskapi/")
        expected = "Basic " + base64.b64encode(f"{DESK_EMAIL}:{API_TOKEN}".encode()).decode()
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return _error(401, "Client must be authenticated to access this resource.", desk)
        if self.forbidden and request.path.startswith(self.forbidden):
            return _error(403, "You do not have permission to perform this action.", desk)
        with self.lock:
            throttled, self.throttled = self.throttled > 0, max(self.throttled - 1, 0)
        if throttled:
            response = _error(429, "Rate limit exceeded.", desk)
            response.headers["Retry-After"] = "2"
            return response
        return await handler(request)

    @web.middleware
    async def _lossy(self, request: web.Request, handler: Next) -> web.StreamResponse:
        response = await handler(request)
        with self.lock:
            lose = (request.method != "GET" and self.losing > 0 and response.status < 400
                    and request.path.startswith(self.losing_under))  # fmt: skip
            self.losing -= 1 if lose else 0
        if lose and request.transport is not None:
            request.transport.abort()
        return response
