"""A fake of Duo's Auth API v2, written from Duo's documentation, over real HTTP on 127.0.0.1
(`ThreadedApp`): `/ping`, `/check`, `/preauth`, `/auth` (push, asynchronous) and
`/auth_status`. Like Duo it checks every signed request: the Date header (within five
minutes of its clock), the integration key, and the HMAC-SHA512 of the canonical request
keyed with the secret key, computed here on its own from what arrived, and answers a wrong
one with 401 and Duo's error body. Users and their devices are seeded; a user's status says
what `preauth` answers (auth, allow for a bypass user, deny, enroll for an unknown one).

`DuoPhone` is the person's phone: approve, deny, report fraud on, or let time out a pending
push. A push times out by itself after 60 s of the injected clock. `auth_status` is a long
poll, as at Duo: a poll with no news since the last is held up to `long_poll` seconds.
`stall(path, seconds)` holds the answers to a path's calls (an answer lost) and `fail(path,
status, code, message)` makes the next one fail."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from aiohttp import web

from .duo_state import Call, DuoDevice, DuoState, Push, UserStatus
from .threaded import ThreadedApp

IKEY = "DIXXXXXXXXXXXXXXXXXX"
SKEY = "duo-fake-secret-key-0123456789abcdefghij"
PUSH_TIMEOUT = timedelta(seconds=60)
DATE_SKEW = timedelta(minutes=5)
PARAMS = web.RequestKey("params", dict[str, str])  # what the call carried


class DuoServer:
    """The fake, for `ikey`/`skey`, on `clock`."""

    def __init__(
        self, clock: Callable[[], datetime], *, ikey: str = IKEY, skey: str = SKEY
    ) -> None:
        self.clock, self.ikey, self.skey = clock, ikey, skey
        self.state = DuoState()
        self.long_poll = 0.0
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        app = web.Application()
        app.router.add_get("/auth/v2/ping", self._ping)
        app.router.add_get("/auth/v2/check", self._signed(self._ping))
        app.router.add_post("/auth/v2/preauth", self._signed(self._preauth))
        app.router.add_post("/auth/v2/auth", self._signed(self._auth))
        app.router.add_get("/auth/v2/auth_status", self._signed(self._auth_status))
        self._host = ThreadedApp(app)

    @property
    def url(self) -> str:
        return self._host.url

    def start(self) -> DuoServer:
        self._host.start()
        return self

    def stop(self) -> None:
        self._host.stop()

    # --- seeding and faults (from the test's thread) -----------------------------------------

    def add_user(self, username: str, status: UserStatus = "auth", *devices: DuoDevice) -> None:
        self._host.run(lambda: self.state.users.__setitem__(username, (status, list(devices))))

    def stall(self, path: str, seconds: float) -> None:
        self._host.run(lambda: self.state.stalls.__setitem__(path, seconds))

    def fail(self, path: str, status: int, code: int, message: str) -> None:
        self._host.run(lambda: self.state.failures.__setitem__(path, (status, code, message)))

    def calls(self, path: str) -> list[Call]:
        return self._host.run(lambda: [c for c in self.state.calls if c.path == path])

    def pushes(self, username: str) -> list[Push]:
        return self._host.run(lambda: [p for p in self.state.pushes.values()
                                       if p.username == username])  # fmt: skip

    def settle(self, txid: str, result: str, status: str) -> None:
        """The phone's answer to a pending push (a push already closed keeps its answer)."""

        def change() -> None:
            push = self._current(self.state.pushes[txid])
            if push.result == "waiting":
                push.result, push.status = result, status
                self._changed.set()

        self._host.run(change)

    # --- the API -----------------------------------------------------------------------------

    def _signed(self, handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            params = dict(parse_qsl(request.query_string if request.method == "GET"
                                    else await request.text(), keep_blank_values=True))  # fmt: skip
            refused = self._refusal(request, params)
            if refused is not None:
                return refused
            self.state.calls.append(Call(request.method, request.path, params))
            if (failure := self.state.failures.pop(request.path, None)) is not None:
                return _fail(*failure)
            request[PARAMS] = params
            response = await handler(request)
            if (stall := self.state.stalls.get(request.path)) is not None:
                await asyncio.sleep(stall)  # done, and the answer held back (or lost)
            return response

        return checked

    def _refusal(self, request: web.Request, params: dict[str, str]) -> web.Response | None:
        date, auth = request.headers.get("Date"), request.headers.get("Authorization", "")
        if request.method == "POST" and request.content_type != "application/x-www-form-urlencoded":
            return _fail(401, 40101, "Missing request credentials")
        if not date or not auth.startswith("Basic "):
            return _fail(401, 40101, "Missing request credentials")
        try:
            ikey, _, signature = base64.b64decode(auth[6:]).decode().partition(":")
            when = parsedate_to_datetime(date)
            when = when if when.tzinfo else when.replace(tzinfo=UTC)  # "-0000": UTC, unsaid
        except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
            return _fail(401, 40101, "Missing request credentials")
        if ikey != self.ikey:
            return _fail(401, 40102, "Invalid integration key in request credentials")
        if abs(when - self.clock()) > DATE_SKEW:
            return _fail(401, 40105, "Request has expired", "Date")
        encoded = sorted((quote(k.encode(), safe="~"), quote(v.encode(), safe="~"))
                         for k, v in params.items())  # fmt: skip
        lines = [date, request.method.upper(), request.host.lower(), request.path,
                 "&".join(f"{k}={v}" for k, v in encoded)]  # fmt: skip
        expected = hmac.new(self.skey.encode(), "\n".join(lines).encode(), hashlib.sha512)
        if not hmac.compare_digest(expected.hexdigest(), signature.lower()):
            return _fail(401, 40103, "Invalid signature in request credentials")
        return None

    async def _ping(self, request: web.Request) -> web.Response:
        return _ok({"time": int(self.clock().timestamp())})

    async def _preauth(self, request: web.Request) -> web.Response:
        username = request[PARAMS].get("username")
        if not username:
            return _fail(400, 40001, "Missing required request parameters", "username")
        status, devices = self.state.users.get(username, ("enroll", []))
        if status == "auth":
            return _ok({"result": "auth", "status_msg": "Account is active",
                        "devices": [d.dump() for d in devices]})  # fmt: skip
        if status == "enroll":
            return _ok({"result": "enroll", "status_msg": "Enroll an authentication device",
                        "enroll_portal_url": f"{self.url}/portal"})  # fmt: skip
        words = {"allow": "Allowing unknown user", "deny": "Access denied"}[status]
        return _ok({"result": status, "status_msg": words})

    async def _auth(self, request: web.Request) -> web.Response:
        params: dict[str, str] = request[PARAMS]
        username, factor = params.get("username"), params.get("factor")
        if not username or not factor:
            return _fail(400, 40001, "Missing required request parameters", "factor")
        if factor != "push" or params.get("async") != "1":
            return _fail(400, 40002, "Invalid request parameters", "factor")  # push, async only
        status, devices = self.state.users.get(username, ("enroll", []))
        if status == "enroll":
            return _fail(400, 40002, "Invalid request parameters", "username")
        wanted = params.get("device", "auto")
        pushable = [d for d in devices if "push" in d.capabilities]
        device = next((d for d in pushable if wanted in {"auto", d.id}), None)
        if status == "auth" and device is None:
            return _fail(400, 40002, "Invalid request parameters", "device")
        txid = f"{next(self._ids):08d}-fake-duo-txid"
        info = dict(parse_qsl(params.get("pushinfo", "")))
        push = Push(txid, username, device.id if device else "", self.clock(),
                    params.get("type", ""), info)  # fmt: skip
        if status != "auth":  # a bypass user is let through, a denied one refused, at once
            push.result, push.status = ("allow", "bypass") if status == "allow" else ("deny",) * 2
        self.state.pushes[txid] = push
        return _ok({"txid": txid})

    async def _auth_status(self, request: web.Request) -> web.Response:
        push = self.state.pushes.get(request[PARAMS].get("txid", ""))
        if push is None:
            return _fail(400, 40002, "Invalid request parameters", "txid")
        if self._current(push).status == push.seen and self.long_poll > 0:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):  # held until there is news, as at Duo
                await asyncio.wait_for(self._changed.wait(), self.long_poll)
        push = self._current(push)
        push.seen = push.status
        words = {"pushed": "Pushed a login request to your device...", "allow": "Success.",
                 "deny": "Login request denied.", "fraud": "Reported as fraudulent.",
                 "timeout": "Login timed out.", "bypass": "Allowing bypass user."}  # fmt: skip
        return _ok({"result": push.result, "status": push.status,
                    "status_msg": words.get(push.status, push.status)})  # fmt: skip

    def _current(self, push: Push) -> Push:
        if push.result == "waiting" and self.clock() >= push.created + PUSH_TIMEOUT:
            push.result, push.status = "deny", "timeout"
        return push


Handler = Callable[[web.Request], Any]


class DuoPhone:
    """A person's phone with Duo Mobile, answering the pushes the fake sent (the contract
    suite's `Phone`: a check id is Duo's txid)."""

    def __init__(self, server: DuoServer) -> None:
        self._server = server

    async def answer(self, check_id: str, *, approve: bool) -> object:
        self._server.settle(check_id, *(("allow", "allow") if approve else ("deny", "deny")))
        return None

    async def report_fraud(self, check_id: str) -> None:
        self._server.settle(check_id, "deny", "fraud")

    async def time_out(self, check_id: str) -> None:
        self._server.settle(check_id, "deny", "timeout")

    async def code(self, check_id: str) -> str | None:
        return None  # Duo pushes; it sends no codes the desk would check


def _ok(response: dict[str, Any]) -> web.Response:
    return web.json_response({"stat": "OK", "response": response})


def _fail(status: int, code: int, message: str, detail: str | None = None) -> web.Response:
    body: dict[str, Any] = {"stat": "FAIL", "code": code, "message": message}
    if detail:
        body["message_detail"] = detail
    return web.json_response(body, status=status)
