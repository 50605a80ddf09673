"""A local OAuth 2.0 token endpoint for tests: the client-credentials grant (RFC 6749 §4.4) as
Microsoft Entra ID's `/oauth2/v2.0/token` and an Okta authorization server's `/v1/token`
answer it, over real HTTP on 127.0.0.1 at an ephemeral port, in a thread of its own (so a
client that blocked its event loop would hold up the test, not the endpoint).

A client proves itself with `client_secret` or with a `client_assertion` (RFC 7523: a JWT
signed with its registered key, for this endpoint's URL, never used before: a replayed `jti`
is refused, as Okta refuses it). The answer is `{"access_token", "token_type": "Bearer",
"expires_in"}`, or 400 with an OAuth error code. `gate` holds every answer until it is set
(or `hold_for` seconds have passed); `events` says, in order, when a request was taken in
("asked") and when it was answered ("answered"), next to what the test notes there itself."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PATH = "/tenant/oauth2/v2.0/token"


@dataclass
class TokenEndpoint:
    """The endpoint; `start()` it, point the client at `url`, `close()` it."""

    secrets: dict[str, str] = field(default_factory=dict)  # client id -> client secret
    keys: dict[str, Any] = field(default_factory=dict)  # client id -> public key
    scope: str | None = None  # when set, the one scope a token may be asked for
    lifetime: object = 3600  # `expires_in` of the tokens it issues
    refuse: str | None = None  # when set, every request is refused with this error code
    description: str = "AADSTS7000215: Invalid client secret provided."
    gate: threading.Event | None = None  # when set, answers wait for it...
    hold_for: float = 30.0  # ...at most this long
    forms: list[dict[str, str]] = field(default_factory=list)  # every request's form
    issued: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    _used: set[str] = field(default_factory=set)  # the jti of every assertion accepted
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}{PATH}"

    def note(self, event: str) -> None:
        """Record an event of the test's own among the endpoint's."""
        with self._lock:
            self.events.append(event)

    # --- life ---------------------------------------------------------------------------
    def start(self) -> TokenEndpoint:
        sock = socket.create_server(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        app = web.Application()
        app.router.add_post(PATH, self._token)
        loop = self._loop = asyncio.new_event_loop()
        runner = web.AppRunner(app, access_log=None)
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, sock).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

        self._thread = threading.Thread(target=serve, name="token-endpoint", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def close(self) -> None:
        if self.gate is not None:
            self.gate.set()  # let a held answer go, so the server can stop
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    # --- the grant ------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        form = {name: str(value) for name, value in (await request.post()).items()}
        with self._lock:
            self.forms.append(form)
            self.events.append("asked")
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, self.hold_for)
        answer = self._answer(form, str(request.url))
        self.note("answered")
        return answer

    def _answer(self, form: dict[str, str], url: str) -> web.Response:
        if form.get("grant_type") != "client_credentials":
            return _error("unsupported_grant_type", "Only client_credentials is supported.")
        if self.refuse is not None:
            return _error(self.refuse, self.description)
        if self.scope is not None and form.get("scope") != self.scope:
            return _error("invalid_scope", f"The scope {form.get('scope')!r} is not valid.")
        client = form.get("client_id", "")
        if not self._proven(client, form, url):
            return _error("invalid_client", self.description)
        token = f"issued-token-{next(self._ids)}"
        self.issued.append(token)
        body = {"token_type": "Bearer", "expires_in": self.lifetime, "access_token": token}
        return web.json_response(body)

    def _proven(self, client: str, form: dict[str, str], url: str) -> bool:
        if "client_assertion" in form:
            return self._asserted(client, form, url)
        secret = self.secrets.get(client)
        return secret is not None and form.get("client_secret") == secret

    def _asserted(self, client: str, form: dict[str, str], url: str) -> bool:
        key = self.keys.get(client)
        if key is None or form.get("client_assertion_type") != ASSERTION_TYPE:
            return False
        try:
            claims = jwt.decode(
                form["client_assertion"],
                key,
                algorithms=["RS256"],
                audience=url,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError:
            return False
        if not claims["iss"] == claims["sub"] == client:
            return False
        with self._lock:
            if claims["jti"] in self._used:
                return False  # a replayed assertion
            self._used.add(claims["jti"])
        return True


def _error(code: str, description: str, status: int = 400) -> web.Response:
    body = {"error": code, "error_description": description, "error_codes": [7000215]}
    return web.json_response(body, status=status)
