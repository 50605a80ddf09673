"""A stateful fake ServiceNow instance for the tests: aiohttp.web on 127.0.0.1 at an ephemeral
port in its own thread (`servers.threaded`), speaking the Table API's documented requests and
answers over `servers.servicenow_tables`: `{"result": ...}` envelopes, references as
`{"link", "value"}`, `sysparm_query/fields/limit/offset/display_value`, paging `Link` headers
with `X-Total-Count`, and `{"error": {"message", "detail"}, "status": "failure"}` refusals.

Sign-in by basic auth or a Bearer token from `/oauth_token.do` (client credentials, acting as
the OAuth application's user); each table needs a role (`acl`), refused with a 403 naming it.
For the tests: `throttle` (429 or 503 with Retry-After), `lose_answers` (writes applied, the
connection dropped), `exchanges`, a technician (`comment`, `assign`, `resolve`,
`open_incident`), and `send_changes_to`: the effect of the shipped business rules, posting
what they post, signed, to a URL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from servers import servicenow_rules as rules
from servers.servicenow_auth import SignIn
from servers.servicenow_routes import answer, error
from servers.servicenow_tables import DataPolicyError, QueryError, Record, Tables
from servers.threaded import ThreadedApp

Next = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFIX = "/api/now/table/"
SIGNED_IN = web.RequestKey("signed_in", str)
DESK = "itdesk.integration"
PASSWORD = "integration-password"
CLIENT_ID = "itdesk-client"
CLIENT_SECRET = "itdesk-client-secret"


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    status: int
    answer: bytes
    answer_headers: dict[str, str]


@dataclass
class FakeServiceNow:
    now: Callable[[], datetime]
    page_size: int = 100
    tables: Tables = field(init=False)
    auth: SignIn = field(default_factory=SignIn)
    acl: dict[str, str] = field(
        default_factory=lambda: dict.fromkeys(
            ("incident", "sys_user", "sys_user_group", "sys_journal_field", "sys_audit"), "itil"
        )
    )
    exchanges: list[Exchange] = field(default_factory=list)
    posted: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    throttled: int = 0
    throttle_status: int = 429
    losing: int = 0
    _server: ThreadedApp | None = None
    _posting: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.tables = Tables(self.now)

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def start(self) -> FakeServiceNow:
        app = web.Application(middlewares=[self._recorded, self._throttled, self._signed_in,
                                           self._lossy])  # fmt: skip
        app.router.add_post("/oauth_token.do", self.auth.token)
        app.router.add_route("*", PREFIX + "{table}", self._table)
        app.router.add_route("*", PREFIX + "{table}/{sys_id}", self._table)
        self._server = ThreadedApp(app)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def run(self, change: Callable[[], Any]) -> Any:
        """Change the instance on the server's loop, where its handlers run."""
        assert self._server is not None
        return self._server.run(change)

    # --- set-up and faults ------------------------------------------------------------------

    def add_user(self, user_name: str, email: str = "", name: str = "", *, roles: str = "",
                 password: str | None = None) -> Record:  # fmt: skip
        if password is not None:
            self.auth.passwords[user_name] = password
        return self.run(lambda: self.tables.add_user(user_name, email, name or user_name, roles))

    def add_group(self, name: str) -> Record:
        return self.run(lambda: self.tables.add_group(name))

    def seed(self, people: list[tuple[str, str, str]], groups: dict[str, str]) -> None:
        """The org's people (username, e-mail, name) as sys_user records, the integration
        user `DESK` (itil, by basic auth or the OAuth client), and the assignment groups."""
        for username, email, name in people:
            self.add_user(username, email, name)
        self.add_user(DESK, "itdesk@example.test", "IT desk", roles="itil", password=PASSWORD)
        self.add_oauth_client(CLIENT_ID, CLIENT_SECRET, DESK)
        for name in sorted(set(groups.values())):
            self.add_group(name)

    def settings(
        self, *, oauth: bool = False, groups: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """ITDESK_SERVICENOW_* settings for the desk against this instance."""
        auth = ({"servicenow_client_id": CLIENT_ID, "servicenow_client_secret": CLIENT_SECRET}
                if oauth else {"servicenow_password": PASSWORD})  # fmt: skip
        return {"tickets": "servicenow", "servicenow_url": self.url, "servicenow_user": DESK,
                "servicenow_assignment_groups": groups or {}, **auth}  # fmt: skip

    def add_oauth_client(self, client_id: str, secret: str, user_name: str) -> None:
        self.auth.clients[client_id] = (secret, user_name)

    def throttle(self, calls: int, status: int = 429) -> None:
        self.throttled, self.throttle_status = calls, status

    def lose_answers(self, writes: int) -> None:
        self.losing = writes

    def seen(self, method: str, table: str) -> list[Exchange]:
        return [
            e for e in self.exchanges if e.method == method and e.path.startswith(PREFIX + table)
        ]

    # --- a technician at work ---------------------------------------------------------------

    def comment(self, number: str, by: str, text: str, *, internal: bool = False) -> None:
        element = "work_notes" if internal else "comments"
        self._as(by, number, {element: text})

    def assign(self, number: str, to: str, by: str) -> None:
        self._as(by, number, {"assigned_to": self.run(lambda: self.tables.user(to))["sys_id"]})

    def resolve(self, number: str, by: str, notes: str = "Fixed.") -> None:
        self._as(
            by, number, {"state": "6", "close_code": "Solution provided", "close_notes": notes}
        )

    def open_incident(self, caller: str, summary: str, by: str, **fields: str) -> Record:
        def insert() -> Record:
            caller_id = self.tables.user(caller)["sys_id"]
            return self.tables.insert(
                "incident", {"caller_id": caller_id, "short_description": summary, **fields}, by
            )

        return dict(self.run(insert))

    def _as(self, by: str, number: str, fields: dict[str, str]) -> None:
        self.run(lambda: self.tables.update("incident", self.tables.incident(number)["sys_id"],
                                            fields, by))  # fmt: skip

    # --- the business rules' effect ---------------------------------------------------------

    def send_changes_to(self, url: str, secret: str) -> None:
        """From now on, post what the shipped business rules post for each change."""

        def listener(table: str, operation: str, record: Record, changed: list[str]) -> None:
            event = rules.payload(self.tables, table, operation, record, changed)
            if event is not None:
                headers, body = rules.signed(secret, str(int(self.now().timestamp())), event)
                self.posted.append((headers, body))
                self._posting.add(asyncio.get_running_loop().create_task(
                    rules.post(url, headers, body)))  # fmt: skip
                self._posting = {task for task in self._posting if not task.done()}

        self.run(lambda: self.tables.listeners.append(listener))

    # --- the server -------------------------------------------------------------------------

    async def _table(self, request: web.Request) -> web.Response:
        table = request.match_info["table"]
        if table not in self.tables.rows:
            return error(400, "Invalid table " + table)
        user = request[SIGNED_IN]
        roles = self.tables.user(user)["roles"].split(",") if user else []
        need = self.acl.get(table, "admin")
        if need not in roles and "admin" not in roles:
            return error(
                403,
                "User Not Authorized",
                f"ACL Exception: {request.method} on {table} requires role {need}",
            )
        try:
            return await answer(self, request, table, user)
        except DataPolicyError as exc:
            return error(403, "Operation Failed", str(exc))
        except QueryError as exc:
            return error(400, "Invalid query", str(exc))

    @web.middleware
    async def _recorded(self, request: web.Request, handler: Next) -> web.StreamResponse:
        body = await request.read()
        response = await handler(request)
        answer = response.body if isinstance(response, web.Response) else b""
        self.exchanges.append(Exchange(
            request.method, request.path, dict(request.query), body, response.status,
            bytes(answer) if isinstance(answer, bytes | bytearray) else b"",
            dict(response.headers)))  # fmt: skip
        return response

    @web.middleware
    async def _throttled(self, request: web.Request, handler: Next) -> web.StreamResponse:
        if self.throttled > 0 and request.path.startswith(PREFIX):
            self.throttled -= 1
            refused = error(
                self.throttle_status,
                "Too Many Requests",
                "Rate limit exceeded for the integration user",
            )
            refused.headers["Retry-After"] = "2"
            return refused
        return await handler(request)

    @web.middleware
    async def _signed_in(self, request: web.Request, handler: Next) -> web.StreamResponse:
        if request.path.startswith(PREFIX):
            user = self.auth.user_of(request)
            if user is None:
                return error(401, "User Not Authenticated", "Required to provide Auth information")
            request[SIGNED_IN] = user
        return await handler(request)

    @web.middleware
    async def _lossy(self, request: web.Request, handler: Next) -> web.StreamResponse:
        response = await handler(request)
        lose = request.method != "GET" and self.losing > 0 and response.status < 400
        if lose and request.transport is not None:  # applied; the answer never arrives
            self.losing -= 1
            request.transport.abort()
        return response
