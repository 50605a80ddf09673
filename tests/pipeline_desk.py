"""A Slack desk on the inbox, for the pipeline tests and the worker process they kill: Globex
plus `CROWD` generated employees, the fake Slack's workspace for them, and the adapter
handing events to the inbox (`bot.state.inbox`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from fakes.slack_api import SlackUserRecord

from adapters.chat.slack import SlackAdapter, SlackConfig
from bot.clock import ManualClock
from bot.inbound import InboxSink
from bot.org import Org, parse_org
from bot.outbound import FanOut
from bot.pipeline import WorkerConfig
from bot.state.inbox import TurnInbox
from bot.store import Store
from bot.wiring import WiredDesk, sandbox_desk
from bot.world import SandboxWorld

GLOBEX = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "orgs" / "globex.yaml"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ONCALL = "C0ONCALL"
CROWD = 40
SHARDS = 8
FAST = WorkerConfig(lease_ms=600, block_ms=100, first_pause=0.01, longest_pause=0.05)


def crowd() -> list[str]:
    return [f"emp{i:02d}" for i in range(CROWD)]


def org() -> Org:
    doc: dict[str, Any] = yaml.safe_load(GLOBEX.read_text(encoding="utf-8"))
    for name in crowd():
        doc["users"][name] = {"name": f"Employee {name[3:]} Crowd", "email": f"{name}@globex.test",
                              "manager": "alice", "factors": ["push"]}  # fmt: skip
    return parse_org(doc, "globex + crowd")


def uid(username: str) -> str:
    return "U" + username.upper()


def dm(username: str) -> str:
    return "D" + username.upper()


def workspace(of: Org) -> list[SlackUserRecord]:
    return [SlackUserRecord(uid(u), of.users[u].email, of.users[u].name) for u in of.users]


async def slack_desk(
    store: Store, api_url: str, bot_token: str, *, reset: bool
) -> tuple[WiredDesk, SlackAdapter, TurnInbox]:
    """The desk, its Slack adapter (handing events to the inbox) and the inbox."""
    the_org = org()
    assert the_org.now is not None
    clock = ManualClock(the_org.now)
    world = await SandboxWorld.create(store.child("world"), the_org, clock, reset=reset)
    outbound = FanOut()
    desk = sandbox_desk(store, world, clock, outbound=outbound)
    inbox = TurnInbox(store.child("inbox"), shards=SHARDS)
    config = SlackConfig(bot_token=bot_token, signing_secret=SECRET, api_url=api_url,
                         oncall_channel=ONCALL, retry_backoff=0.01, outbox_retry=0.05)  # fmt: skip
    adapter = SlackAdapter(desk, desk.directory, store.child("slack"), config, clock=clock,
                           oncall_alias=desk.oncall_channel, outbound=outbound,
                           sink=InboxSink(inbox))  # fmt: skip
    outbound.add(adapter)
    await desk.warm_up()
    return desk, adapter, inbox
