"""How the fake Okta signs callers in, as Okta does: an SSWS API token, or a Bearer token its
org authorization server (`POST /oauth2/v1/token`) issued to a registered service app for a
client-credentials grant with a private_key_jwt assertion (RS256, signed by the app's
registered key, `aud` the token URL, `iss` = `sub` = the client id), limited to the scopes
the app was granted. Okta's answers: a 401 `E0000011`, a 403 `E0000006` for a missing scope,
the token endpoint's OAuth errors."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import jwt
from aiohttp import web

from servers.okta_routes import error_body

Next = Callable[[web.Request], Awaitable[web.StreamResponse]]
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class ServiceApp:
    client_id: str
    public_key: str
    scopes: frozenset[str]
    key_id: str | None = None


@dataclass
class OktaAuth:
    """The org's API token, its service apps and the Bearer tokens it issued."""

    lock: threading.Lock
    token_url: Callable[[], str]
    api_token: str = field(default_factory=lambda: "00" + secrets.token_urlsafe(30))
    apps: dict[str, ServiceApp] = field(default_factory=dict)
    bearer: dict[str, frozenset[str]] = field(default_factory=dict)  # token -> scopes

    @web.middleware
    async def signed_in(self, request: web.Request, handler: Next) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme == "SSWS" and secrets.compare_digest(token, self.api_token):
            return await handler(request)
        with self.lock:
            scopes = self.bearer.get(token) if scheme == "Bearer" else None
        if scopes is None:
            return web.json_response(error_body("E0000011", "Invalid token provided"), status=401)
        if _needed_scope(request) not in scopes | {s.replace(".manage", ".read") for s in scopes}:
            summary = "You do not have permission to perform the requested action"
            return web.json_response(error_body("E0000006", summary), status=403)
        return await handler(request)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return _refused("unsupported_grant_type", "client_credentials only", 400)
        if form.get("client_assertion_type") != JWT_BEARER:
            return _refused("invalid_client", "A private_key_jwt client_assertion is required.")
        app = self._signer(str(form.get("client_assertion", "")))
        if app is None:
            return _refused("invalid_client", "The client_assertion is not valid.")
        asked = frozenset(str(form.get("scope", "")).split())
        if not asked or not asked <= app.scopes:
            return _refused("invalid_scope", "The requested scope is invalid.", 400)
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.bearer[token] = asked
        granted = " ".join(sorted(asked))
        return web.json_response({"token_type": "Bearer", "expires_in": 3600,
                                  "access_token": token, "scope": granted})  # fmt: skip

    def _signer(self, assertion: str) -> ServiceApp | None:
        """The registered app whose key signed the assertion, for this token URL, unexpired."""
        try:
            app = self.apps[str(jwt.decode(assertion, options={"verify_signature": False})
                                .get("iss"))]  # fmt: skip
            if app.key_id is not None and jwt.get_unverified_header(assertion).get("kid") != (
                app.key_id
            ):
                return None
            claims = jwt.decode(assertion, app.public_key, algorithms=["RS256"],
                                audience=self.token_url(), issuer=app.client_id,
                                options={"require": ["exp", "iat", "jti", "sub"]})  # fmt: skip
        except (jwt.InvalidTokenError, KeyError):
            return None
        return app if claims["sub"] == app.client_id else None


def _refused(error: str, why: str, status: int = 401) -> web.Response:
    return web.json_response({"error": error, "error_description": why}, status=status)


def _needed_scope(request: web.Request) -> str:
    kind = "logs" if request.path.startswith("/api/v1/logs") else (
        "groups" if request.path.startswith("/api/v1/groups") else "users")  # fmt: skip
    return f"okta.{kind}.{'read' if request.method == 'GET' else 'manage'}"
