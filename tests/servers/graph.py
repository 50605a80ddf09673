"""A fake Microsoft Graph and Entra token endpoint for the tests: aiohttp.web on 127.0.0.1 at an
ephemeral port, in its own thread, over a stateful `Tenant` (`servers.graph_tenant`).

The token endpoint (`/{tenant}/oauth2/v2.0/token`) takes the client secret, or a client
assertion signed by the registered certificate's key naming it by `x5t`, and issues a signed
token whose `roles` claim holds the app's permissions; it can be held (slow) or made to fail.
Graph (`/v1.0/...`, `servers.graph_routes`) checks each call's token and permission, answers
with Graph's error bodies, pages collections by `@odata.nextLink`, and throttles (429 with
Retry-After) or loses an answer on demand. Every exchange is kept for the spec check."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography import x509

from bot.directory_files import load_roles
from bot.org import load_org
from bot.settings import Settings
from servers.graph_protocol import Exchange
from servers.graph_routes import routes
from servers.graph_tenant import Seeded, Tenant, seed

HOST = "127.0.0.1"
TENANT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CLIENT_SECRET = "fake-graph-secret-value"
ALL_PERMISSIONS = (
    "User.ReadWrite.All", "GroupMember.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All",
    "AuditLog.Read.All", "IdentityRiskyUser.Read.All", "User.RevokeSessions.All",
)  # what a test tenant's app is granted unless a test takes one away  # fmt: skip
CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class FakeGraph:
    """The running fake: its URL, tenant records and the switches tests turn."""

    tenant: Tenant
    url: str = ""
    permissions: set[str] = field(default_factory=lambda: set(ALL_PERMISSIONS))
    certificate: x509.Certificate | None = None
    thumbprint: str | None = None
    expires_in: int = 3600
    page_size: int = 2
    tokens_issued: int = 0
    tokens_waiting: int = 0  # token requests held now
    token_failures: int = 0  # the next this many token requests fail (HTTP 500)
    throttled: int = 0  # the next this many Graph calls answer 429
    retry_after: str = "1"
    lose_next: str | None = None  # the next call with this method is done, its answer lost
    answer_next: tuple[str, int] | None = None  # the next call with this method gets status
    unlicensed: set[str] = field(default_factory=set)  # "signIns", "riskyUsers"
    exchanges: list[Exchange] = field(default_factory=list)
    seeded: Seeded | None = None  # how a seeded tenant records the org's people
    _generation: int = 0
    _signing: str = field(default_factory=lambda: secrets.token_hex(32))
    _hold: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._hold.set()

    # --- switches --------------------------------------------------------------------------

    def hold_tokens(self) -> None:
        """Token requests wait until `release_tokens` (a token endpoint hanging)."""
        self._hold.clear()

    def release_tokens(self) -> None:
        self._hold.set()

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused from now on (401)."""
        self._generation += 1

    @property
    def token_url(self) -> str:
        return f"{self.url}/{TENANT_ID}/oauth2/v2.0/token"

    def settings(self, **extra: Any) -> dict[str, Any]:
        """The ITDESK_* settings (as field names) that reach this fake by the secret."""
        return {"entra_tenant_id": TENANT_ID, "entra_client_id": CLIENT_ID,
                "entra_client_secret": CLIENT_SECRET, "graph_url": self.url,
                "entra_authority_url": self.url, "entra_timeout": 5.0, **extra}  # fmt: skip

    # --- tokens ------------------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        if request.match_info["tenant"] != TENANT_ID:
            return _oauth_error(400, "invalid_request", "AADSTS90002: Tenant not found.")
        self.tokens_waiting += 1
        while not self._hold.is_set():  # a hanging endpoint, released by the test
            await asyncio.get_running_loop().run_in_executor(None, self._hold.wait, 0.2)
        self.tokens_waiting -= 1
        if self.token_failures:
            self.token_failures -= 1
            return _oauth_error(500, "temporarily_unavailable", "AADSTS90033")
        form = await request.post()
        if form.get("grant_type") != "client_credentials" or form.get("client_id") != CLIENT_ID:
            return _oauth_error(400, "unauthorized_client", "AADSTS700016: unknown application")
        if form.get("scope") != f"{self.url}/.default":
            return _oauth_error(400, "invalid_scope", "AADSTS70011: the scope is not valid")
        if not self._proven(form):
            return _oauth_error(401, "invalid_client", "AADSTS7000215: invalid client secret")
        self.tokens_issued += 1
        claims = {"aud": self.url, "tid": TENANT_ID, "appid": CLIENT_ID,
                  "roles": sorted(self.permissions), "gen": self._generation,
                  "exp": int(time.time()) + self.expires_in}  # fmt: skip
        access = jwt.encode(claims, self._signing, algorithm="HS256")
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": access,
            }
        )

    def _proven(self, form: Any) -> bool:
        if "client_secret" in form:
            return bool(secrets.compare_digest(str(form["client_secret"]), CLIENT_SECRET))
        if form.get("client_assertion_type") != ASSERTION or self.certificate is None:
            return False
        assertion = str(form.get("client_assertion", ""))
        try:
            if jwt.get_unverified_header(assertion).get("x5t") != self.thumbprint:
                return False
            jwt.decode(
                assertion,
                self.certificate.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256"],
                audience=self.token_url,
                issuer=CLIENT_ID,
            )
        except jwt.PyJWTError:
            return False
        return True

    def granted(self, request: web.Request) -> set[str] | None:
        """The permissions of the call's token; None for no valid token."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        try:
            claims = jwt.decode(header[7:], self._signing, algorithms=["HS256"],
                                audience=self.url)  # fmt: skip
        except jwt.PyJWTError:
            return None
        return set(claims["roles"]) if claims.get("gen") == self._generation else None


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


@contextmanager
def running_graph(tenant: Tenant) -> Iterator[FakeGraph]:
    """The fake, serving in a thread of its own until the block ends."""
    fake = FakeGraph(tenant)
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/{tenant}/oauth2/v2.0/token", fake.token)
    app.add_routes(routes(fake))
    runner = web.AppRunner(app, handle_signals=False)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, HOST, 0)
        loop.run_until_complete(site.start())
        port = runner.addresses[0][1]
        fake.url = f"http://{HOST}:{port}"
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="fake-graph", daemon=True)
    thread.start()
    if not started.wait(10):
        pytest.fail("the fake Graph did not start")
    try:
        yield fake
    finally:
        fake.release_tokens()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def entra_settings(fake: FakeGraph, **extra: Any) -> Settings:
    """The desk's settings for an Entra directory over `fake` (by its client secret unless
    `extra` says otherwise)."""
    values = {"directory": "entra", "web_chat": False, "smtp_url": "smtp://127.0.0.1:25",
              "smtp_from": "desk@contract.test", **fake.settings(), **extra}  # fmt: skip
    return Settings.model_validate(values)


@contextmanager
def seeded_graph() -> Iterator[FakeGraph]:
    """The fake Graph over a tenant seeded with the contract suite's org and roles files."""
    seeded = seed(load_org(CONTRACTS / "org.yaml"), load_roles(CONTRACTS / "entra-roles.yaml"))
    with running_graph(seeded.tenant) as fake:
        fake.seeded = seeded
        yield fake


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    """`seeded_graph` as a fixture (import it into a test module to use it)."""
    with seeded_graph() as fake:
        yield fake
