"""Production authentication of the Teams adapter, offline: a locally served OpenID metadata
document and signing key set stand in for the Bot Framework's, and the tests sign their own
tokens (RS256). A valid token is accepted; a missing, forged, expired, foreign or otherwise
wrong one is refused with 401 before the desk sees anything, never with a 500."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import structlog
from aiohttp import test_utils, web
from cryptography.hazmat.primitives.asymmetric import rsa
from fakes.bot_connector import FakeBotConnector
from jwt.algorithms import RSAAlgorithm
from test_teams import GLOBEX, ONCALL, ROSTER, Harness, running

from adapters.chat.teams import TeamsChat, TeamsConfigError
from adapters.chat.teams_auth import BOT_FRAMEWORK_ISSUER, BotFrameworkTokens, Unauthorized
from bot.clock import ManualClock
from bot.org import load_org
from bot.settings import Settings, SettingsError, load_settings
from bot.store import Store
from bot.wiring import sandbox_desk
from bot.world import SandboxWorld

APP_ID = "5f0c3a9e-itdesk-app"
OUTBOUND_TOKEN = "token-for-the-bot-connector"
KID = "bf-key-1"


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNER, FORGER, ROTATED = _rsa(), _rsa(), _rsa()


def jwk(key: rsa.RSAPrivateKey, kid: str, endorsements: list[str]) -> dict[str, Any]:
    public: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return public | {"kid": kid, "use": "sig", "endorsements": endorsements}


@dataclass
class OpenIdService:
    """The Bot Framework's OpenID metadata and key set, served locally."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    broken: bool = False
    fetches: int = 0
    server: test_utils.TestServer | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/keys", self._keys)
        self.server = test_utils.TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    @property
    def metadata_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/v1/.well-known/openidconfiguration"))

    async def _metadata(self, request: web.Request) -> web.Response:
        if self.broken:
            return web.json_response({"error": "unavailable"}, status=500)
        self.fetches += 1
        assert self.server is not None
        return web.json_response(
            {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "jwks_uri": str(self.server.make_url("/v1/keys")),
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": self.keys})


def token(
    service_url: str,
    *,
    key: rsa.RSAPrivateKey = SIGNER,
    kid: str = KID,
    algorithm: str = "RS256",
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {
        "iss": BOT_FRAMEWORK_ISSUER,
        "aud": APP_ID,
        "serviceurl": service_url,
        "nbf": now - 10,
        "iat": now - 10,
        "exp": now + 3600,
    } | claims
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
async def openid() -> AsyncIterator[OpenIdService]:
    service = OpenIdService(
        keys=[jwk(SIGNER, KID, ["msteams"]), jwk(ROTATED, "webchat-only", ["webchat"])]
    )
    await service.start()
    try:
        yield service
    finally:
        assert service.server is not None
        await service.server.close()


@pytest.fixture
async def connector() -> AsyncIterator[FakeBotConnector]:
    fake = FakeBotConnector(token=OUTBOUND_TOKEN)  # refuses calls without the bot's token
    for person in ROSTER:
        fake.add_member(person)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


def secured_settings(connector: FakeBotConnector, openid: OpenIdService) -> Settings:
    return Settings(
        _env_file=None,
        teams_app_id=APP_ID,  # type: ignore[call-arg]
        teams_app_password="app-secret",
        teams_tenant_id=connector.tenant_id,
        teams_openid_metadata_url=openid.metadata_url,
        teams_oncall_channel=ONCALL,
        teams_service_url=connector.url,
    )


@pytest.fixture
async def bot(
    store: Store, connector: FakeBotConnector, openid: OpenIdService
) -> AsyncIterator[Harness]:
    settings = secured_settings(connector, openid)
    async with running(store, connector, settings, outbound_token=lambda: OUTBOUND_TOKEN) as bot:
        yield bot


async def post(bot: Harness, activity: dict[str, Any], authorization: str | None) -> int:
    headers = {} if authorization is None else {"Authorization": authorization}
    resp = await bot.client.post("/api/messages", json=activity, headers=headers)
    if resp.status != 202:
        assert resp.headers["Content-Type"].startswith("application/json")
        assert (await resp.json())["error"]
    await bot.teams.idle()
    return resp.status


# --- accepted -------------------------------------------------------------------------------


async def test_a_valid_token_is_accepted_and_the_bot_answers_with_its_own(bot: Harness) -> None:
    activity = bot.activity("bob", text="my docking station is physically broken")
    assert await post(bot, activity, f"Bearer {token(bot.connector.url)}") == 202
    assert bot.dm("bob")  # the desk answered
    assert bot.connector.requests
    assert {r.authorization for r in bot.connector.requests} == {f"Bearer {OUTBOUND_TOKEN}"}


# --- refused --------------------------------------------------------------------------------


def bearer(value: str) -> str:
    return f"Bearer {value}"


def hs256(url: str) -> str:
    return jwt.encode({"aud": APP_ID, "serviceurl": url}, "k" * 32, "HS256", headers={"kid": KID})


Header = Callable[[str], str | None]
REFUSED: dict[str, Header] = {
    "missing": lambda url: None,
    "not bearer": lambda url: "Basic Ym90OnNlY3JldA==",
    "empty bearer": lambda url: "Bearer ",
    "not a jwt": lambda url: bearer("not-a-jwt"),
    "forged": lambda url: bearer(token(url, key=FORGER)),
    "expired": lambda url: bearer(token(url, exp=int(time.time()) - 600)),
    "no expiry": lambda url: bearer(token(url, exp=None)),
    "wrong audience": lambda url: bearer(token(url, aud="another-bot")),
    "wrong issuer": lambda url: bearer(token(url, iss="https://evil.example")),
    "other service url": lambda url: bearer(token("https://evil.example/")),
    "unknown key": lambda url: bearer(token(url, key=FORGER, kid="bf-key-9")),
    "key not for teams": lambda url: bearer(token(url, key=ROTATED, kid="webchat-only")),
    "symmetric algorithm": lambda url: bearer(hs256(url)),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_bad_token_is_refused_with_401(bot: Harness, case: str) -> None:
    activity = bot.activity("bob", text="my docking station is physically broken")
    assert await post(bot, activity, REFUSED[case](bot.connector.url)) == 401
    assert bot.connector.requests == []  # nothing was looked up, nothing posted
    assert await bot.world.tickets.of_requester("bob") == []


async def test_a_token_is_checked_before_the_body_is_read(bot: Harness) -> None:
    resp = await bot.client.post(
        "/api/messages", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 401


async def test_unreachable_signing_keys_answer_503_so_the_connector_retries(
    bot: Harness, openid: OpenIdService
) -> None:
    openid.broken = True
    activity = bot.activity("bob", text="my docking station is physically broken")
    assert await post(bot, activity, f"Bearer {token(bot.connector.url)}") == 503
    assert bot.connector.requests == []


async def test_another_tenant_is_refused(bot: Harness) -> None:
    activity = bot.activity("bob", text="my docking station is physically broken")
    activity["channelData"]["tenant"]["id"] = "tenant-elsewhere"
    activity["conversation"]["tenantId"] = "tenant-elsewhere"
    assert await post(bot, activity, f"Bearer {token(bot.connector.url)}") == 403
    assert bot.connector.requests == []


# --- the signing keys -----------------------------------------------------------------------


async def test_signing_keys_are_cached_and_refetched_for_a_new_key(openid: OpenIdService) -> None:
    now = [time.time()]
    tokens = BotFrameworkTokens(APP_ID, openid.metadata_url, clock=lambda: now[0])
    url = "https://smba.example/teams/"
    try:
        for _ in range(3):
            claims = await tokens.verify(
                f"Bearer {token(url)}", channel_id="msteams", service_url=url
            )
            assert claims["aud"] == APP_ID
        assert openid.fetches == 1

        # Microsoft rolls a new key over: unknown at first, then fetched (at most every 5 min)
        openid.keys.append(jwk(ROTATED, "bf-key-2", ["msteams"]))
        rotated = f"Bearer {token(url, key=ROTATED, kid='bf-key-2')}"
        with pytest.raises(Unauthorized):
            await tokens.verify(rotated, channel_id="msteams", service_url=url)
        assert openid.fetches == 1  # fetched moments ago: not again
        now[0] += 301
        await tokens.verify(rotated, channel_id="msteams", service_url=url)
        assert openid.fetches == 2
    finally:
        await tokens.close()


# --- configuration ---------------------------------------------------------------------------


async def test_without_an_app_id_teams_needs_the_explicit_local_flag(store: Store) -> None:
    org = load_org(GLOBEX)
    world = await SandboxWorld.create(store.child("world"), org, ManualClock(org.now))
    desk = sandbox_desk(store, world, ManualClock(org.now))
    with pytest.raises(TeamsConfigError):
        TeamsChat(
            desk,
            desk.directory,
            store.child("teams"),
            Settings(_env_file=None),  # type: ignore[call-arg]
            clock=desk.clock,
            oncall_alias=desk.oncall_channel,
        )
    local = Settings(_env_file=None, teams_allow_unauthenticated=True)  # type: ignore[call-arg]
    with structlog.testing.capture_logs() as logs:
        TeamsChat(
            desk,
            desk.directory,
            store.child("teams"),
            local,
            clock=desk.clock,
            oncall_alias=desk.oncall_channel,
        )
    (warning,) = [e for e in logs if e["log_level"] == "warning"]
    assert "WITHOUT authentication" in warning["message"]


def test_the_local_flag_and_an_app_id_do_not_mix() -> None:
    with pytest.raises(SettingsError, match="ALLOW_UNAUTHENTICATED"):
        load_settings(teams_app_id=APP_ID, teams_app_password="x", teams_allow_unauthenticated=True)
