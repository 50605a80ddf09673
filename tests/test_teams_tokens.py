"""The bot's token for the Bot Connector comes from a token endpoint without stalling the desk.

The Teams adapter asks Entra ID (here `fakes.token_endpoint`, in a thread of its own) for a
client-credentials token before it calls the Bot Connector (`fakes.bot_connector`, which
refuses any other token). While a reply waits for a slow token endpoint the desk's event loop
goes on: `/healthz` answers before the endpoint has, and the reply goes out once the token
comes. A refusing endpoint makes the turn fail as any failed delivery does: tried again, then
dead-lettered, with nothing said to the person and no secret in the logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import ClientSession, web
from botframework.connector.auth import AuthenticationConstants, MicrosoftAppCredentials
from fakes.bot_connector import FakeBotConnector
from fakes.token_endpoint import TokenEndpoint
from test_teams import GLOBEX, ONCALL, ROSTER, Harness, running
from test_teams_auth import APP_ID, KID, SIGNER, OpenIdService, jwk
from test_teams_auth import token as signed
from waiting import until

from adapters.chat.teams_tokens import SCOPE, token_url
from adapters.http.tokens import REFRESH_MARGIN
from bot.app import Listener, serve
from bot.clock import ManualClock
from bot.inbound import InboxSink
from bot.models import Address, Reply, Send
from bot.observability import configure_logging
from bot.pipeline import TurnWorker, WorkerConfig
from bot.settings import Settings
from bot.state.inbox import TurnInbox
from bot.store import Store

PASSWORD = "Quiet-Lantern-app-password-7"
ISSUED = "issued-token-1"  # the first token the endpoint issues


@pytest.fixture
async def openid() -> AsyncIterator[OpenIdService]:
    service = OpenIdService(keys=[jwk(SIGNER, KID, ["msteams"])])
    await service.start()
    try:
        yield service
    finally:
        assert service.server is not None
        await service.server.close()


@pytest.fixture
async def connector() -> AsyncIterator[FakeBotConnector]:
    fake = FakeBotConnector(token=ISSUED)  # refuses calls without the endpoint's token
    for person in ROSTER:
        fake.add_member(person)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    served = TokenEndpoint(secrets={APP_ID: PASSWORD}, scope=SCOPE).start()
    try:
        yield served
    finally:
        served.close()


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """The desk's own logging (JSON, tracebacks included) into a buffer, restored after."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    try:
        yield out
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


def teams_settings(
    connector: FakeBotConnector, openid: OpenIdService, endpoint: TokenEndpoint, **extra: Any
) -> Settings:
    return Settings(
        _env_file=None,
        teams_app_id=APP_ID,  # type: ignore[call-arg]
        teams_app_password=PASSWORD,
        teams_tenant_id=connector.tenant_id,
        teams_openid_metadata_url=openid.metadata_url,
        teams_oncall_channel=ONCALL,
        teams_service_url=connector.url,
        teams_token_url=endpoint.url,
        **extra,
    )


async def post(http: ClientSession, url: str, connector: FakeBotConnector, user: str) -> None:
    """Post a message from `user` to the desk as the Bot Connector does, signed."""
    activity = connector.activity(f"29:{user}", text="my docking station is physically broken")
    headers = {"Authorization": f"Bearer {signed(connector.url)}"}
    async with http.post(f"{url}/api/messages", json=activity, headers=headers) as resp:
        assert resp.status == 202, await resp.text()


def events(logged: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logged.getvalue().splitlines()]


# --- where the token comes from -----------------------------------------------------------


@pytest.mark.parametrize("tenant", [None, "tenant-globex"])
def test_the_token_is_asked_for_where_botbuilder_asks_for_it(tenant: str | None) -> None:
    settings = Settings(_env_file=None, teams_tenant_id=tenant)  # type: ignore[call-arg]
    botbuilders = MicrosoftAppCredentials(APP_ID, PASSWORD, tenant)
    path = AuthenticationConstants.TO_CHANNEL_FROM_BOT_TOKEN_ENDPOINT_PATH
    assert token_url(settings) == botbuilders.oauth_endpoint + path
    assert token_url(settings).endswith(f"/{tenant or 'botframework.com'}/oauth2/v2.0/token")
    assert botbuilders.oauth_scope + "/.default" == SCOPE
    moved = Settings(_env_file=None, teams_token_url="https://login.example/t/token")  # type: ignore[call-arg]
    assert token_url(moved) == "https://login.example/t/token"


# --- the event loop goes on while the token is on its way ------------------------------------


async def test_healthz_answers_while_a_reply_waits_for_a_slow_token_endpoint(
    redis_url: str,
    redis: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    connector: FakeBotConnector,
    openid: OpenIdService,
    endpoint: TokenEndpoint,
) -> None:
    endpoint.gate, endpoint.hold_for = threading.Event(), 5.0  # answers in 5 s unless let go
    monkeypatch.setattr("bot.app.configure_logging", lambda *args, **kwargs: None)
    listeners: list[Listener] = []
    served = asyncio.Event()
    open_, hand_over = Listener.open, Listener.serve

    async def recorded_open(self: Listener) -> None:
        listeners.append(self)
        await open_(self)

    async def told_serve(self: Listener, app: web.Application) -> None:
        await hand_over(self, app)
        served.set()

    monkeypatch.setattr(Listener, "open", recorded_open)
    monkeypatch.setattr(Listener, "serve", told_serve)
    settings = teams_settings(
        connector, openid, endpoint, redis_url=redis_url, port=0, namespace="teams-tokens",
        cache_dir=tmp_path, web_chat=False,
    )  # fmt: skip
    stop = asyncio.Event()
    desk = asyncio.create_task(serve(settings, org_file=GLOBEX, stop=stop))
    bob = connector.personal_conversation(connector.roster["29:bob"])
    try:
        async with ClientSession() as http, asyncio.timeout(60):
            await served.wait()
            url = listeners[0].url
            await post(http, url, connector, "bob")

            async def asked() -> bool:
                return bool(endpoint.forms)

            await until(asked)  # the worker is waiting for its token now
            async with http.get(f"{url}/healthz") as health:
                assert health.status == 200
                assert (await health.json())["status"] == "ok"
            endpoint.note("healthz")
            assert connector.requests == []  # nothing goes to the Bot Connector without it
            endpoint.gate.set()

            async def replied() -> bool:
                return bool(connector.messages(bob))

            await until(replied)
    finally:
        stop.set()
        await desk
    assert endpoint.events == ["asked", "healthz", "answered"]
    form = {"grant_type": "client_credentials", "client_id": APP_ID, "client_secret": PASSWORD}
    assert endpoint.forms == [form | {"scope": SCOPE}]  # one token for the whole turn
    assert {r.authorization for r in connector.requests} == {f"Bearer {ISSUED}"}


# --- kept, and fetched again before it expires -------------------------------------------------


async def test_the_token_is_kept_and_fetched_again_before_it_expires(
    store: Store, connector: FakeBotConnector, openid: OpenIdService, endpoint: TokenEndpoint
) -> None:
    settings = teams_settings(connector, openid, endpoint)
    async with running(store, connector, settings) as bot:
        await say(bot, "bob")
        await say(bot, "alice")
        assert len(endpoint.forms) == 1  # every call of both turns used the one token

        assert isinstance(bot.desk.clock, ManualClock)
        bot.desk.clock.advance(timedelta(seconds=3600 - REFRESH_MARGIN))
        connector.token = "issued-token-2"  # the first one is no longer taken
        await say(bot, "carol")
        assert len(endpoint.forms) == 2
        carol = connector.personal_conversation(connector.roster["29:carol"])
        assert connector.messages(carol)
    assert {r.authorization for r in connector.requests} == {
        f"Bearer {ISSUED}",
        "Bearer issued-token-2",
    }


async def test_a_token_the_bot_connector_refuses_is_fetched_again(
    store: Store, connector: FakeBotConnector, openid: OpenIdService, endpoint: TokenEndpoint
) -> None:
    settings = teams_settings(connector, openid, endpoint)
    async with running(store, connector, settings) as bot:
        await say(bot, "bob")
        connector.token = "issued-token-2"  # the token was revoked: 401 from here on
        await say(bot, "alice")  # refused once...
        await say(bot, "alice")  # ...then asked for with a new token
        alice = connector.personal_conversation(connector.roster["29:alice"])
        assert connector.messages(alice)
    assert len(endpoint.forms) == 2


async def test_a_refused_token_does_not_make_a_person_unreachable(
    store: Store, connector: FakeBotConnector, openid: OpenIdService, endpoint: TokenEndpoint
) -> None:
    settings = teams_settings(connector, openid, endpoint)
    carol = connector.personal_conversation(connector.roster["29:carol"])
    async with running(store, connector, settings) as bot:
        connector.token = "issued-token-2"  # the first token is refused
        ask = Send(to=Address.dm("carol"), reply=Reply(id="M-1", text="Approve bob's access?"))
        await bot.teams.deliver([ask])  # carol is looked up: 401
        assert connector.messages(carol) == []
        assert not await bot.teams.state.unreachable("carol")
        await bot.teams.deliver([ask])  # with a new token: found, and her chat opened
    assert [m.text for m in connector.messages(carol)] == ["Approve bob's access?"]


async def say(bot: Harness, user: str) -> None:
    activity = bot.activity(user, text="my docking station is physically broken")
    headers = {"Authorization": f"Bearer {signed(bot.connector.url)}"}
    resp = await bot.client.post("/api/messages", json=activity, headers=headers)
    assert resp.status == 202, await resp.text()
    await bot.teams.idle()


# --- a refusing token endpoint -----------------------------------------------------------------


async def test_a_refusing_token_endpoint_fails_the_turn_into_the_dead_letters(
    store: Store,
    connector: FakeBotConnector,
    openid: OpenIdService,
    endpoint: TokenEndpoint,
    logged: io.StringIO,
) -> None:
    endpoint.refuse = "invalid_client"  # the app password was rotated
    inbox = TurnInbox(store.child("inbox"))
    config = WorkerConfig(lease_ms=600, block_ms=100, first_pause=0.01, longest_pause=0.02)
    settings = teams_settings(connector, openid, endpoint)
    async with running(store, connector, settings, sink=InboxSink(inbox)) as bot:
        worker = TurnWorker(inbox, {"msteams": bot.teams}, metrics=bot.desk.metrics,
                            config=config)  # fmt: skip
        stop = asyncio.Event()
        working = asyncio.create_task(worker.run(stop))
        try:
            await say(bot, "bob")

            async def given_up() -> bool:
                return bool(await inbox.buried())

            await until(given_up)
            endpoint.refuse = None  # the password is fixed: the desk works again
            await say(bot, "alice")

            async def answered() -> bool:
                alice = connector.personal_conversation(connector.roster["29:alice"])
                return bool(connector.messages(alice))

            await until(answered)
        finally:
            stop.set()
            await working
    (dead,) = await inbox.buried()
    assert "invalid_client" in dead["error"]
    bob = connector.personal_conversation(connector.roster["29:bob"])
    assert connector.messages(bob) == []  # nothing reached bob, no traceback either
    assert not [r for r in connector.requests if "29:bob" in r.path or bob in r.path]
    assert len(endpoint.forms) > config.max_attempts  # every attempt asked again
    assert "inbox.gave_up" in {e["event"] for e in events(logged)}
    assert "invalid_client" in logged.getvalue()  # an operator can tell why
    assert PASSWORD not in logged.getvalue() + dead["error"]
