"""How the fake ServiceNow instance knows who calls: basic auth with a user's password, or a
Bearer token its `/oauth_token.do` issued for an OAuth client (client credentials), acting as
that client's application user."""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class SignIn:
    passwords: dict[str, str] = field(default_factory=dict)  # user_name -> password
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (secret, user)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> user_name

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        client = self.clients.get(str(form.get("client_id", "")))
        if (
            form.get("grant_type") != "client_credentials"
            or client is None
            or not hmac.compare_digest(client[0], str(form.get("client_secret", "")))
        ):
            refused = {"error": "access_denied", "error_description": "access_denied"}
            return web.json_response(refused, status=401)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = client[1]
        return web.json_response({"access_token": token, "scope": "useraccount",
                                  "token_type": "Bearer", "expires_in": 1799})  # fmt: skip

    def user_of(self, request: web.Request) -> str | None:
        """The user_name the call signs in as, or None."""
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return self.tokens.get(auth[7:])
        if auth.startswith("Basic "):
            try:
                login, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return None
            known = self.passwords.get(login)
            if known is not None and hmac.compare_digest(known, password):
                return login
        return None
