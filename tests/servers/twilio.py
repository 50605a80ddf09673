"""A fake of one Twilio Verify (v2) service over real HTTP on 127.0.0.1 (`ThreadedApp`),
answering as the slice of Twilio's OpenAPI description under `specs/twilio/` says: start a
verification (`POST /v2/Services/{sid}/Verifications`, SMS), fetch and update (cancel) it,
and check a code (`POST .../VerificationCheck`). Every call must carry the account SID and
auth token by HTTP basic auth (else 401, code 20003).

Like Twilio: a verification to a number that already has a pending one is that one again,
its code sent again, five sends at most (then 429, 60203); five wrong codes close it
(`max_attempts_reached`, then 429, 60202); a verification is gone ten minutes after it was
started (404, 20404), by the injected clock. `TwilioPhone` reads the texts each number got;
`stall` holds calls (an answer lost). Every exchange is recorded (`exchanges`) for the spec
test to hold against the OpenAPI."""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from .threaded import ThreadedApp
from .twilio_state import Exchange, TwilioState, Verification

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "twilio-fake-auth-token-5f3e"
SERVICE_SID = "VA" + "b2" * 16
LIFETIME = timedelta(minutes=10)
MAX_SENDS = 5
MAX_CHECKS = 5
FORM = web.RequestKey("form", dict[str, str])  # what the call carried
E164 = re.compile(r"^\+[1-9]\d{1,14}$")


class TwilioServer:
    """The fake, for one account and service, on `clock`."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        service_sid: str = SERVICE_SID,
    ) -> None:
        self.clock = clock
        self.account_sid, self.auth_token, self.service_sid = account_sid, auth_token, service_sid
        self.state = TwilioState()
        self._ids = itertools.count(1)
        app = web.Application(middlewares=[self._recorded])
        base = "/v2/Services/{service}"
        app.router.add_post(f"{base}/Verifications", self._start)
        app.router.add_get(f"{base}/Verifications/{{sid}}", self._fetch)
        app.router.add_post(f"{base}/Verifications/{{sid}}", self._update)
        app.router.add_post(f"{base}/VerificationCheck", self._check)
        self._host = ThreadedApp(app)

    @property
    def url(self) -> str:
        return self._host.url

    def start(self) -> TwilioServer:
        self._host.start()
        return self

    def stop(self) -> None:
        self._host.stop()

    def texts_to(self, number: str) -> list[str]:
        return self._host.run(lambda: [body for to, body in self.state.texts if to == number])

    def verification(self, sid: str) -> Verification | None:
        return self._host.run(lambda: self.state.verifications.get(sid))

    def stall(self, last_part: str, seconds: float) -> None:
        """Hold the answers to calls to paths ending in `last_part` ("Verifications")."""
        self._host.run(lambda: self.state.stalls.__setitem__(last_part, seconds))

    def forget(self, sid: str) -> None:
        """Twilio deletes the verification (as it does once it has lived ten minutes)."""
        self._host.run(lambda: self.state.verifications.pop(sid))

    def exchanges(self) -> list[Exchange]:
        return self._host.run(lambda: list(self.state.exchanges))

    # --- the API -----------------------------------------------------------------------------

    @web.middleware
    async def _recorded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.text()
        response = await self._authorised(request, handler, body)
        self.state.exchanges.append(Exchange(
            request.method, request.path, request.headers.get("Authorization", ""),
            request.content_type, body, response.status, json.loads(response.text or "{}"),
        ))  # fmt: skip
        return response

    async def _authorised(self, request: web.Request, handler: Handler, body: str) -> web.Response:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            login = password = ""
        if scheme != "Basic" or (login, password) != (self.account_sid, self.auth_token):
            return _error(401, 20003, "Authenticate")
        if request.match_info.get("service") != self.service_sid:
            return _error(404, 20404, "The requested resource was not found")
        request[FORM] = dict(parse_qsl(body, keep_blank_values=True))
        response = await handler(request)
        if (stall := self.state.stalls.get(request.path.rsplit("/", 1)[-1])) is not None:
            await asyncio.sleep(stall)  # done, and the answer held back (or lost)
        return response

    async def _start(self, request: web.Request) -> web.Response:
        form: dict[str, str] = request[FORM]
        to, channel = form.get("To", ""), form.get("Channel", "")
        if not E164.match(to):
            return _error(400, 60200, "Invalid parameter `To`")
        if channel != "sms":
            return _error(400, 60200, "Invalid parameter `Channel`")
        now = self.clock()
        open_one = next((v for v in self._live() if v.to == to and v.status == "pending"), None)
        if open_one is not None:  # a pending one: sent again
            if open_one.sends >= MAX_SENDS:
                return _error(429, 60203, "Max send attempts reached")
            open_one.sends += 1
            verification = open_one
        else:
            sid = f"VE{next(self._ids):032x}"
            code = f"{secrets.randbelow(10**6):06d}"
            verification = Verification(sid, to, code, now, now)
            self.state.verifications[sid] = verification
        self.state.texts.append((to, f"Your verification code is: {verification.code}"))
        return self._resource(verification, status=201)

    async def _fetch(self, request: web.Request) -> web.Response:
        verification = self._find(request.match_info["sid"])
        if verification is None:
            return _error(404, 20404, "The requested resource was not found")
        return self._resource(verification)

    async def _update(self, request: web.Request) -> web.Response:
        status = request[FORM].get("Status")
        if status not in {"canceled", "approved"}:
            return _error(400, 60200, "Invalid parameter `Status`")
        verification = self._find(request.match_info["sid"])
        if verification is None or verification.status != "pending":
            return _error(404, 20404, "The requested resource was not found")
        verification.status, verification.updated = status, self.clock()
        return self._resource(verification)

    async def _check(self, request: web.Request) -> web.Response:
        form: dict[str, str] = request[FORM]
        if not form.get("Code"):
            return _error(400, 60200, "Invalid parameter `Code`")
        if "VerificationSid" in form:
            verification = self._find(form["VerificationSid"])
        elif "To" in form:
            verification = next((v for v in self._live() if v.to == form["To"]), None)
        else:
            return _error(400, 60200, "Invalid parameter: To or VerificationSid is required")
        if verification is not None and verification.status == "max_attempts_reached":
            return _error(429, 60202, "Max check attempts reached")
        if verification is None or verification.status != "pending":
            return _error(404, 20404, "The requested resource was not found")
        verification.checks += 1
        verification.updated = self.clock()
        if secrets.compare_digest(form["Code"], verification.code):
            verification.status = "approved"
        elif verification.checks >= MAX_CHECKS:
            verification.status = "max_attempts_reached"
        checked = {name: value for name, value in self._fields(verification).items()
                   if name not in {"url", "lookup", "send_code_attempts", "sna"}}  # fmt: skip
        return web.json_response({**checked, "sna_attempts_error_codes": []})

    # --- state -------------------------------------------------------------------------------

    def _live(self) -> list[Verification]:
        """The verifications Twilio still has: each is gone ten minutes after it started."""
        now = self.clock()
        return [v for v in self.state.verifications.values() if now < v.created + LIFETIME]

    def _find(self, sid: str) -> Verification | None:
        return next((v for v in self._live() if v.sid == sid), None)

    def _resource(self, verification: Verification, *, status: int = 200) -> web.Response:
        return web.json_response(self._fields(verification), status=status)

    def _fields(self, v: Verification) -> dict[str, Any]:
        url = f"{self.url}/v2/Services/{self.service_sid}/Verifications/{v.sid}"
        return {
            "sid": v.sid, "service_sid": self.service_sid, "account_sid": self.account_sid,
            "to": v.to, "channel": "sms", "status": v.status, "valid": v.status == "approved",
            "lookup": {}, "amount": None, "payee": None,
            "send_code_attempts": [{"time": _iso(v.created), "channel": "SMS",
                                    "attempt_sid": f"VL{n:032x}"} for n in range(v.sends)],
            "date_created": _iso(v.created), "date_updated": _iso(v.updated), "sna": None,
            "url": url,
        }  # fmt: skip


Handler = Callable[[web.Request], Awaitable[web.Response]]


class TwilioPhone:
    """The phone at a person's mobile number: the code of a verification is read off the last
    text the number got (the contract suite's `Phone`; a check id is a verification SID)."""

    def __init__(self, server: TwilioServer) -> None:
        self._server = server

    async def answer(self, check_id: str, *, approve: bool) -> object:
        raise AssertionError("an SMS code is typed, never approved on the phone")

    async def code(self, check_id: str) -> str | None:
        verification = self._server.verification(check_id)
        if verification is None:
            return None
        texts = self._server.texts_to(verification.to)
        found = re.findall(r"\b(\d{6})\b", texts[-1]) if texts else []
        return found[-1] if found else None


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message,
                              "more_info": f"https://www.twilio.com/docs/errors/{code}",
                              "status": status}, status=status)  # fmt: skip
