"""A stateful fake Okta org for the tests: aiohttp.web on 127.0.0.1 at an ephemeral port, in its
own thread, speaking the Management API's documented requests and answers
(`servers.okta_routes` over `servers.okta_state`).

Around every call, as Okta does: the `X-Rate-Limit-*` headers (a fixed quota per minute of
the org's clock, 429 past it) and sign-in (`servers.okta_auth`). For the tests: `throttle`
answers the next calls 429, `lose_answers` makes writes whose answers never arrive and
`stall` answers that come late, a test phone (`answer_push`, `sent_code`), `lock_out` (a
lockout and its System Log event), and `exchanges`, every request and answer, for checking
against Okta's published spec."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.clock import Clock
from bot.directory_files import RoleMap
from bot.org import Org
from servers.okta_auth import OktaAuth, ServiceApp
from servers.okta_factors import FactorRoutes
from servers.okta_routes import OktaRoutes, error_body
from servers.okta_state import OktaOrgState

HOST = "127.0.0.1"
WINDOW = timedelta(minutes=1)
Next = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Exchange:
    """One call the fake answered, as it went over the wire."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int
    content_type: str
    answer: bytes
    answer_headers: dict[str, str]


@dataclass
class FakeOkta:
    """The fake org; `start` it (or use `running_okta`), `stop` it after."""

    clock: Clock
    page_size: int = 2
    rate_limit: int = 600
    state: OktaOrgState = field(init=False)
    auth: OktaAuth = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    exchanges: list[Exchange] = field(default_factory=list)
    throttled: int = 0  # the next calls answered 429
    losing: int = 0  # the next writes applied and their answers lost
    links_to: str | None = None  # where its links point, when not at itself
    stall: float = 0.0  # seconds every answer is held back, once its call is done
    _calls: int = 0
    _window_ends: float = 0.0
    _port: int = 0

    def __post_init__(self) -> None:
        self.state = OktaOrgState(self.clock)
        self.auth = OktaAuth(self.lock, lambda: f"{self.url}/oauth2/v1/token")

    @property
    def api_token(self) -> str:
        return self.auth.api_token

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._port}"

    # --- what tests do ----------------------------------------------------------------------

    def seed(self, org: Org, roles: RoleMap, *, ad_sourced: frozenset[str] = frozenset()
             ) -> dict[str, tuple[str, ...]]:  # fmt: skip
        with self.lock:
            return self.state.seed(org, roles, ad_sourced=ad_sourced)

    def register_app(self, client_id: str, public_key_pem: str, scopes: str, *,
                     key_id: str | None = None) -> None:  # fmt: skip
        app = ServiceApp(client_id, public_key_pem, frozenset(scopes.split()), key_id)
        self.auth.apps[client_id] = app

    def user_id(self, username: str) -> str:
        with self.lock:
            return next(u["id"] for u in self.state.users.values()
                        if u["profile"]["login"].split("@")[0] == username)  # fmt: skip

    def lock_out(self, username: str, reason: str = "LOCKED_OUT") -> dict[str, Any]:
        user_id = self.user_id(username)
        with self.lock:
            return self.state.lock_out(user_id, reason)

    def answer_push(self, transaction_id: str, *, approve: bool) -> None:
        """The person answers the push on their phone (a closed one takes no answer)."""
        with self.lock:
            tx = self.state.transactions[transaction_id]
            if tx.result == "WAITING" and self.clock.now() < tx.expires_at:
                tx.result = "SUCCESS" if approve else "REJECTED"

    def sent_code(self, factor_id: str) -> str | None:
        """The code the phone (or mailbox) of an SMS or e-mail factor received, or the one
        an authenticator app shows now."""
        with self.lock:
            if factor_id in self.state.totp_secrets:
                return self.state.totp_code(factor_id)
            sent = self.state.codes.get(factor_id)
            return None if sent is None else sent[0]

    def throttle(self, calls: int) -> None:
        with self.lock:
            self.throttled = calls

    def lose_answers(self, writes: int) -> None:
        with self.lock:
            self.losing = writes

    def seen(self, method: str, path_start: str) -> list[Exchange]:
        with self.lock:
            return [e for e in self.exchanges
                    if e.method == method and e.path.startswith(path_start)]  # fmt: skip

    # --- the server -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._recorded, self._rate_limited,
                                           self.auth.signed_in, self._lossy])  # fmt: skip
        for routes in (OktaRoutes, FactorRoutes):
            routes(self.state, self.lock, lambda: self.links_to or self.url,
                   self.page_size).register(app)  # fmt: skip
        app.router.add_post("/oauth2/v1/token", self.auth.token)
        return app

    @web.middleware
    async def _recorded(self, request: web.Request, handler: Next) -> web.StreamResponse:
        body = await request.read()
        response = await handler(request)
        answer = response.body if isinstance(response, web.Response) else b""
        exchange = Exchange(
            request.method, request.path, dict(request.query), dict(request.headers), body,
            response.status, response.content_type if answer else "",
            bytes(answer) if isinstance(answer, bytes | bytearray) else b"",
            dict(response.headers),
        )  # fmt: skip
        with self.lock:
            self.exchanges.append(exchange)
        return response

    @web.middleware
    async def _rate_limited(self, request: web.Request, handler: Next) -> web.StreamResponse:
        with self.lock:
            now = self.clock.now().timestamp()
            if now >= self._window_ends:
                self._window_ends, self._calls = now + WINDOW.total_seconds(), 0
            refused = self.throttled > 0 or self._calls >= self.rate_limit
            if self.throttled > 0:
                self.throttled -= 1
            elif not refused:
                self._calls += 1
            remaining = 0 if refused else self.rate_limit - self._calls
            reset = int(self._window_ends)
        if refused:
            summary = "API call exceeded rate limit due to too many requests."
            response: web.StreamResponse = web.json_response(error_body("E0000047", summary),
                                                             status=429)  # fmt: skip
        else:
            response = await handler(request)
        response.headers["X-Rate-Limit-Limit"] = str(self.rate_limit)
        response.headers["X-Rate-Limit-Remaining"] = str(remaining)
        response.headers["X-Rate-Limit-Reset"] = str(reset)
        return response

    @web.middleware
    async def _lossy(self, request: web.Request, handler: Next) -> web.StreamResponse:
        response = await handler(request)
        with self.lock:
            lose = request.method != "GET" and self.losing > 0 and response.status < 400
            self.losing -= 1 if lose else 0
        if lose and request.transport is not None:  # applied; the answer never arrives
            request.transport.abort()
        if self.stall > 0:  # applied; the answer comes late (the caller's timeout passes)
            await asyncio.sleep(self.stall)
        return response

    def start(self) -> FakeOkta:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        runner = web.AppRunner(self.app(), access_log=None)

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, HOST, 0).start())
            self._port = int(runner.addresses[0][1])
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._loop, self._thread = loop, threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Okta did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@contextmanager
def running_okta(clock: Clock, **options: Any) -> Iterator[FakeOkta]:
    fake = FakeOkta(clock, **options).start()
    try:
        yield fake
    finally:
        fake.stop()
