"""The fake Okta's factor operations, as Okta documents them: a user's enrolments, a push to
Okta Verify (a transaction to poll, with a number challenge when asked for one), a code
sent by SMS or e-mail and checked once, an authenticator app's code, and their refusals."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from aiohttp import web

from servers.okta_routes import BODY, Json, OktaRoutes
from servers.okta_state import PUSH_LIFETIME, Refused, Transaction, iso


class FactorRoutes(OktaRoutes):
    """`/api/v1/users/{id}/factors...` over the same org as `OktaRoutes`."""

    def register(self, app: web.Application) -> None:
        u = "/api/v1/users/{id}/factors"
        self.add(app, [
            ("GET", u, self.list_factors),
            ("POST", u + "/{fid}/verify", self.verify),
            ("GET", u + "/{fid}/transactions/{tid}", self.transaction),
        ])  # fmt: skip

    def list_factors(self, request: web.Request) -> web.Response:
        user = self.state.user(request.match_info["id"])
        return web.json_response(self.state.factors.get(user["id"], []))

    def verify(self, request: web.Request) -> web.Response:
        sent = request.get(BODY)
        body = sent if isinstance(sent, dict) else None
        user = self.state.user(request.match_info["id"])
        factor = self.state.factor(user["id"], request.match_info["fid"])
        now, kind = self.state.clock.now(), factor["factorType"]
        links = f"{self.base()}/api/v1/users/{user['id']}/factors/{factor['id']}"
        code = (body or {}).get("passCode")
        if kind == "push":
            number = secrets.randbelow(90) + 10 if (body or {}).get(
                "useNumberMatchingChallenge") else None  # fmt: skip
            tx = Transaction(secrets.token_hex(10), user["id"], factor["id"], now + PUSH_LIFETIME,
                             number)  # fmt: skip
            self.state.transactions[tx.id] = tx
            answer: Json = {
                "factorResult": "WAITING", "expiresAt": iso(tx.expires_at), "profile": {},
                "_links": {"poll": {"href": f"{links}/transactions/{tx.id}",
                                    "hints": {"allow": ["GET"]}},
                           "cancel": {"href": f"{links}/transactions/{tx.id}",
                                      "hints": {"allow": ["DELETE"]}}},
            }  # fmt: skip
            if number is not None:
                answer["_embedded"] = {"challenge": {"correctAnswer": number}}
            return web.json_response(answer, status=201)
        if code is None and kind in {"sms", "email"}:
            lifetime = int(request.query.get("tokenLifetimeSeconds", "300"))
            expires = now + timedelta(seconds=lifetime)
            self.state.codes[factor["id"]] = (f"{secrets.randbelow(10**6):06d}", expires)
            verify = {"verify": {"href": f"{links}/verify"}}
            return web.json_response({"factorResult": "CHALLENGE", "expiresAt": iso(expires),
                                      "_links": verify})  # fmt: skip
        if code is not None and self._right_code(factor, str(code), now):
            return web.json_response({"factorResult": "SUCCESS"})
        raise Refused(403, "E0000068", "Invalid Passcode/Answer")

    def _right_code(self, factor: Json, code: str, now: datetime) -> bool:
        if factor["factorType"] == "token:software:totp":
            return code == self.state.totp_code(factor["id"])
        sent = self.state.codes.get(factor["id"])
        if sent is None or now >= sent[1] or code != sent[0]:
            return False
        del self.state.codes[factor["id"]]  # a code is good once
        return True

    def transaction(self, request: web.Request) -> web.Response:
        user = self.state.user(request.match_info["id"])
        factor = self.state.factor(user["id"], request.match_info["fid"])
        tx = self.state.transactions.get(request.match_info["tid"])
        if tx is None or tx.factor_id != factor["id"]:
            raise Refused(404, "E0000007", "Not found: Resource not found: transaction")
        if tx.result == "WAITING" and self.state.clock.now() >= tx.expires_at:
            tx.result = "TIMEOUT"
        links = f"{self.base()}/api/v1/users/{user['id']}/factors/{factor['id']}"
        answer: Json = {"factorResult": tx.result, "profile": {"credentialId":
                        user["profile"]["login"]}, "_links": {}}  # fmt: skip
        if tx.result == "WAITING":
            answer["expiresAt"] = iso(tx.expires_at)
            answer["_links"] = {"poll": {"href": f"{links}/transactions/{tx.id}"},
                                "cancel": {"href": f"{links}/transactions/{tx.id}"}}  # fmt: skip
            if tx.number is not None:
                answer["_embedded"] = {"challenge": {"correctAnswer": tx.number}}
        elif tx.result in {"REJECTED", "TIMEOUT"}:
            answer["_links"] = {"verify": {"href": f"{links}/verify"}}
        return web.json_response(answer)
