"""Socket Mode: the desk connects out to Slack over a WebSocket (for workspaces without a
public URL). Slack's side is the fake in tests/fakes/slack_api.py: `apps.connections.open`
with the app-level token hands out a WebSocket URL on the local server, which greets with
`hello`, sends envelopes, collects acknowledgements, and can ask the app to reconnect."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes.slack_api import APP_ID, BOT_USER_ID, TEAM_ID, FakeSlack, SlackUserRecord

from adapters.chat.slack import SlackAdapter, SlackConfig
from bot import texts
from bot.clock import ManualClock
from bot.org import load_org
from bot.store import Store
from bot.wiring import WiredDesk, sandbox_desk
from bot.world import SandboxWorld

GLOBEX = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "orgs" / "globex.yaml"
_seq = itertools.count(1)


@dataclass
class SocketDesk:
    fake: FakeSlack
    desk: WiredDesk
    world: SandboxWorld
    adapter: SlackAdapter

    async def envelope(self, kind: str, payload: dict[str, Any], **extra: Any) -> str:
        """Send an envelope on the newest connection; returns once the app acknowledged it
        and its work is done."""
        envelope_id = f"env-{next(_seq)}"
        await self.fake.send_envelope(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                **extra,
            }
        )
        async with asyncio.timeout(10):
            ack = await self.fake.acked(envelope_id)
            await self.adapter.settled()
        assert ack == {"envelope_id": envelope_id}
        return envelope_id

    def dm_message(self, who: str, text: str, event_id: str | None = None) -> dict[str, Any]:
        ts = f"1772440000.{next(_seq):06d}"
        return {
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_seq):08d}",
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "channel": "D" + who.upper(),
                "channel_type": "im",
                "user": "U" + who.upper(),
                "text": text,
                "ts": ts,
                "event_ts": ts,
            },
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }


@pytest.fixture
async def socket_desk(store: Store) -> AsyncIterator[SocketDesk]:
    org = load_org(GLOBEX)
    assert org.now is not None
    clock = ManualClock(org.now)
    world = await SandboxWorld.create(store.child("world"), org, clock)
    desk = sandbox_desk(store, world, clock)
    users = [SlackUserRecord("U" + p.upper(), org.users[p].email) for p in ("bob", "erin")]
    async with FakeSlack(users=users) as fake:
        for user in users:
            fake.channels[fake.dm_channel(user.id)] = True
        config = SlackConfig(
            bot_token=fake.bot_token, app_token=fake.app_token, api_url=fake.api_url
        )  # no signing secret: Socket Mode needs none
        adapter = SlackAdapter(
            desk,
            desk.directory,
            store.child("slack"),
            config,
            clock=desk.clock,
            oncall_alias=desk.oncall_channel,
        )
        await adapter.start()
        try:
            async with asyncio.timeout(10):
                await fake.connected(1)
            yield SocketDesk(fake, desk, world, adapter)
        finally:
            await adapter.stop()


async def test_events_come_in_over_the_socket_and_are_acknowledged(
    socket_desk: SocketDesk,
) -> None:
    fake = socket_desk.fake
    (opened,) = fake.calls_of("apps.connections.open")
    assert opened.token == fake.app_token  # the app-level token, not the bot token

    await socket_desk.envelope("events_api", socket_desk.dm_message("bob", "my mouse is broken"))
    (ticket,) = await socket_desk.world.tickets.of_requester("bob")
    (notice,) = fake.in_channel("DBOB")
    assert ticket.id in notice.text


async def test_a_redelivered_envelope_is_answered_once(socket_desk: SocketDesk) -> None:
    payload = socket_desk.dm_message("bob", "my laptop fan is broken", event_id="Ev0SOCKET")
    await socket_desk.envelope("events_api", payload)
    await socket_desk.envelope("events_api", payload, retry_attempt=1, retry_reason="timeout")
    assert len(socket_desk.fake.in_channel("DBOB")) == 1
    assert len(await socket_desk.world.tickets.of_requester("bob")) == 1


async def test_slash_commands_come_in_over_the_socket(socket_desk: SocketDesk) -> None:
    command = {
        "command": "/itdesk",
        "text": "pause",
        "user_id": "UBOB",
        "channel_id": "DBOB",
        "team_id": TEAM_ID,
        "trigger_id": "1.2.3",
    }
    await socket_desk.envelope("slash_commands", command)
    (refusal,) = socket_desk.fake.ephemerals
    assert refusal["text"] == texts.say("admin.only_admins")
    assert not await socket_desk.desk.control.paused()


async def test_the_app_reconnects_when_slack_asks(socket_desk: SocketDesk) -> None:
    fake = socket_desk.fake
    await fake.send_envelope({"type": "disconnect", "reason": "refresh_requested"})
    async with asyncio.timeout(10):
        await fake.connected(2)
    assert len(fake.calls_of("apps.connections.open")) == 2

    await socket_desk.envelope("events_api", socket_desk.dm_message("bob", "my webcam broke"))
    assert len(fake.in_channel("DBOB")) == 1


async def test_the_app_reconnects_when_the_connection_drops(socket_desk: SocketDesk) -> None:
    fake = socket_desk.fake
    await fake.drop_socket()
    async with asyncio.timeout(20):
        await fake.connected(2)
    await socket_desk.envelope("events_api", socket_desk.dm_message("bob", "my webcam broke"))
    assert len(fake.in_channel("DBOB")) == 1
