"""The desk as a Slack app, end to end over real HTTP: a real desk over the Globex sandbox on
the test Redis, the adapter mounted at /slack/events on an aiohttp app on an ephemeral port,
requests signed with Slack's signing scheme (v0, HMAC-SHA256 over "v0:<ts>:<body>"), and the
Web API played by the local fake in tests/fakes/slack_api.py. Each test waits for the
adapter's background work by awaiting `settled()`, never by sleeping."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import structlog
import yaml
from aiohttp import ClientResponse, test_utils, web
from fakes.slack_api import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    FakeSlack,
    Message,
    SlackUserRecord,
)

from adapters.chat.pace import Rate
from adapters.chat.slack import EVENTS_PATH, SlackAdapter, SlackConfig, SlackConfigError
from adapters.chat.slack_delivery import MAX_RETRY_DELAY, SlackDelivery
from adapters.chat.slack_posting import SlackPace
from bot import texts
from bot.app import Runtime
from bot.clock import ManualClock
from bot.models import Address, Card, Reply, Send, Update
from bot.org import load_org
from bot.outbound import FanOut
from bot.settings import SettingsError, load_settings
from bot.state.refs import ButtonRefs
from bot.store import Store
from bot.wiring import WiredDesk, sandbox_desk
from bot.world import SandboxWorld

GLOBEX = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "orgs" / "globex.yaml"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ONCALL = "C0ONCALL"
GENERAL = "C0GENERAL"  # a channel the desk is not in
UNPACED = SlackPace(*(Rate(0.001, burst=1000),) * 4)  # no message ever waits its turn
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "hank", "ivan")
_seq = itertools.count(1)


def uid(username: str) -> str:
    return "U" + username.upper()


def dm(username: str) -> str:
    return "D" + username.upper()


def next_ts() -> str:
    return f"1772440000.{next(_seq):06d}"


def sign(body: str, timestamp: str, secret: str = SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def workspace() -> list[SlackUserRecord]:
    org = load_org(GLOBEX)
    people = [SlackUserRecord(uid(p), org.users[p].email, org.users[p].name) for p in PEOPLE]
    return [
        *people,
        SlackUserRecord("UMALLORY", "mallory@example.com", "Mallory Outsider"),
        SlackUserRecord("UCONNECT", "zoe@globex.test", "Zoe Connect", team_id="T0OTHER"),
        SlackUserRecord("UGUEST", "bob@globex.test", "Bob Guest", guest=True),
        SlackUserRecord("UUNVERIFIED", "carol@globex.test", "Carol", email_confirmed=False),
        SlackUserRecord("UGONE", "dave@globex.test", "Dave Gone", deleted=True),
        SlackUserRecord("UOTHERBOT", None, "Build Bot", is_bot=True),
    ]


async def signed_post(
    http: test_utils.TestClient[web.Request, web.Application],
    body: str,
    content_type: str,
    *,
    timestamp: int | None = None,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
) -> ClientResponse:
    """A request to /slack/events signed the way Slack signs it."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return await http.post(
        EVENTS_PATH,
        data=body.encode(),
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(body, ts, secret),
            **(headers or {}),
        },
    )


def envelope(event: dict[str, Any], event_id: str | None = None) -> str:
    """An Events API delivery of `event`."""
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_seq):08d}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    )


def dm_event(who: str, text: str) -> dict[str, Any]:
    """`who` writing `text` in their DM with the desk."""
    ts = next_ts()
    return {
        "type": "message",
        "channel": dm(who),
        "channel_type": "im",
        "user": uid(who),
        "text": text,
        "ts": ts,
        "event_ts": ts,
    }


@dataclass
class SlackDesk:
    """A desk in a fake Slack workspace, driven the way Slack drives the app."""

    http: test_utils.TestClient[web.Request, web.Application]
    fake: FakeSlack
    desk: WiredDesk
    world: SandboxWorld
    adapter: SlackAdapter
    clock: ManualClock

    # --- requests as Slack sends them -------------------------------------------------
    async def post(self, body: str, content_type: str, **options: Any) -> ClientResponse:
        return await signed_post(self.http, body, content_type, **options)

    def envelope(self, event: dict[str, Any], event_id: str | None = None) -> str:
        return envelope(event, event_id)

    def dm_event(self, who: str, text: str) -> dict[str, Any]:
        return dm_event(who, text)

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> ClientResponse:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        resp = await self.post(
            self.envelope(event, event_id), "application/json", headers=headers if retry else None
        )
        assert resp.status == 200, await resp.text()
        return resp

    async def say(self, who: str, text: str, *, event_id: str | None = None) -> None:
        """`who` writes to the desk in their DM; returns once the desk has answered."""
        await self.event(self.dm_event(who, text), event_id=event_id)
        await self.adapter.settled()

    async def reply_in_thread(self, who: str, root: Message, text: str) -> None:
        ts = next_ts()
        event = {
            "type": "message",
            "channel": root.channel,
            "channel_type": "channel",
            "user": uid(who),
            "text": text,
            "ts": ts,
            "thread_ts": root.ts,
            "event_ts": ts,
        }
        await self.event(event)
        await self.adapter.settled()

    async def interact(self, payload: dict[str, Any]) -> ClientResponse:
        body = urlencode({"payload": json.dumps(payload)})
        resp = await self.post(body, "application/x-www-form-urlencoded")
        assert resp.status == 200, await resp.text()
        await self.adapter.settled()
        return resp

    async def click(
        self, who: str, message: Message, label: str, *, channel: str | None = None
    ) -> ClientResponse:
        """`who` presses a button of a message, as Slack reports it (from `channel`, by
        default the message's own)."""
        button = message.button(label)
        channel = channel or message.channel
        shown: dict[str, Any] = {"type": "message", "ts": message.ts, "text": message.text}
        if message.thread_ts:
            shown["thread_ts"] = message.thread_ts
        return await self.interact(
            {
                "type": "block_actions",
                "token": "legacy-verification-token",
                "api_app_id": APP_ID,
                "team": {"id": TEAM_ID, "domain": "globex"},
                "user": {"id": uid(who), "username": who, "team_id": TEAM_ID},
                "trigger_id": f"{next(_seq)}.1.trigger",
                "container": {
                    "type": "message",
                    "message_ts": message.ts,
                    "channel_id": channel,
                    "is_ephemeral": False,
                },
                "channel": {"id": channel},
                "message": {**shown, "blocks": message.blocks},
                "actions": [
                    {
                        "type": "button",
                        "block_id": "b1",
                        "action_id": button["action_id"],
                        "text": button["text"],
                        "value": button["value"],
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
            }
        )

    async def command(self, who: str, text: str, *, channel: str | None = None) -> ClientResponse:
        body = urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "globex",
                "channel_id": channel or dm(who),
                "channel_name": "directmessage",
                "user_id": uid(who),
                "user_name": who,
                "command": "/itdesk",
                "text": text,
                "api_app_id": APP_ID,
                "response_url": "https://hooks.slack.invalid/commands/T0GLOBEX/1/x",
                "trigger_id": f"{next(_seq)}.1.trigger",
            }
        )
        resp = await self.post(body, "application/x-www-form-urlencoded")
        assert resp.status == 200, await resp.text()
        await self.adapter.settled()
        return resp

    # --- what people see --------------------------------------------------------------
    def dm(self, who: str) -> list[Message]:
        return self.fake.in_channel(dm(who))

    def last_dm(self, who: str) -> Message:
        messages = self.dm(who)
        assert messages, f"nothing in {who}'s DM"
        return messages[-1]

    async def sms_code(self, who: str) -> str:
        items = [i for i in await self.world.outbox.items(who) if i.kind == "code"]
        assert items, f"no code sent to {who}"
        assert items[-1].secret is not None
        return items[-1].secret

    async def sms_only(self, who: str) -> None:
        """Give a person only an SMS factor, so that step-up is a code typed in Slack."""
        await self.world.directory.reset_factors(who)
        await self.world.directory.enrol_factor(who, "sms")


MakeDesk = Callable[..., Awaitable[SlackDesk]]


@pytest.fixture
async def make_desk(store: Store) -> AsyncIterator[MakeDesk]:
    """Builds a `SlackDesk`, with SlackConfig overrides; everything closes after the test."""
    closers: list[Callable[[], Awaitable[None]]] = []

    async def make(**config: Any) -> SlackDesk:
        org = load_org(GLOBEX)
        assert org.now is not None
        clock = ManualClock(org.now)
        world = await SandboxWorld.create(store.child("world"), org, clock)
        outbound = FanOut()
        desk = sandbox_desk(store, world, clock, outbound=outbound)
        fake = FakeSlack(users=workspace(), channels={ONCALL: True, GENERAL: False})
        await fake.__aenter__()
        closers.append(lambda: fake.__aexit__(None, None, None))
        for person in PEOPLE:
            fake.channels[dm(person)] = True  # each has the desk's Messages tab open
        settings: dict[str, Any] = {
            "bot_token": fake.bot_token,
            "signing_secret": SECRET,
            "api_url": fake.api_url,
            "oncall_channel": ONCALL,
            "retry_backoff": 0.01,
            "outbox_retry": 3600.0,  # a test flushes by hand; no timer fires during one
            "pace": UNPACED,  # tests/test_slack_pace.py runs Slack's pace in virtual time
            **config,
        }
        adapter = SlackAdapter(
            desk,
            desk.directory,
            store.child("slack"),
            SlackConfig(**settings),
            clock=desk.clock,
            oncall_alias=desk.oncall_channel,
        )
        outbound.add(adapter)
        app = web.Application()
        adapter.install(app)
        http = test_utils.TestClient(test_utils.TestServer(app, host="127.0.0.1"))
        await http.start_server()
        closers.append(http.close)
        # the start-up flush runs in the background; a test's own deliver must not find it
        # holding the outbox (it would leave the posting to that flush, after the test looked)
        await adapter.settled()
        return SlackDesk(http, fake, desk, world, adapter, clock)

    yield make
    for close in reversed(closers):
        await close()


@pytest.fixture
async def slack(make_desk: MakeDesk) -> SlackDesk:
    return await make_desk()


# --- an employee in their DM -------------------------------------------------------------


async def test_a_dm_unlocks_an_account_after_step_up(slack: SlackDesk) -> None:
    await slack.sms_only("alice")
    await slack.say("alice", "hi, I'm locked out of my account, too many wrong passwords")

    asked = slack.last_dm("alice")
    assert "code" in asked.text.lower()
    assert (await slack.world.directory.person("alice")).locked  # type: ignore[union-attr]

    await slack.say("alice", await slack.sms_code("alice"))

    alice = await slack.world.directory.person("alice")
    assert alice is not None
    assert not alice.locked
    status = slack.last_dm("alice")
    assert "unlocked" in status.words()
    assert "header" in [b["type"] for b in status.blocks]
    helped = status.button("Helped")
    assert "alice" not in helped["value"]  # the value is the desk's opaque ref, nothing else
    assert await ButtonRefs(slack.desk.store).get(helped["value"]) is not None
    assert all(c.token == slack.fake.bot_token for c in slack.fake.calls)
    # the e-mail came from users.info, once for the two messages
    assert [c.args["user"] for c in slack.fake.calls_of("users.info")] == [uid("alice")]


async def test_slack_is_acknowledged_before_the_work_is_done(slack: SlackDesk) -> None:
    release = slack.fake.hold("users.info")
    async with asyncio.timeout(10):  # work done before answering would hang here
        resp = await slack.event(slack.dm_event("bob", "my docking station is physically broken"))
    assert resp.status == 200  # answered while the work is still waiting on Slack
    await slack.fake.held("users.info")
    assert slack.dm("bob") == []
    assert await slack.world.tickets.of_requester("bob") == []

    release.set()
    await slack.adapter.settled()
    (ticket,) = await slack.world.tickets.of_requester("bob")
    assert ticket.id in slack.last_dm("bob").text


async def test_a_retried_event_gets_one_reply(slack: SlackDesk) -> None:
    event = slack.dm_event("bob", "my laptop fan is broken and grinds")
    await slack.event(event, event_id="Ev0RETRY")
    await slack.event(event, event_id="Ev0RETRY", retry=1)
    await slack.event(event, event_id="Ev0RETRY", retry=2)
    await slack.adapter.settled()

    assert len(slack.dm("bob")) == 1
    assert len(await slack.world.tickets.of_requester("bob")) == 1
    assert len(slack.fake.in_channel(ONCALL)) == 1


REFUSED = {  # user, their DM, what they are told
    "UMALLORY": ("DMALLORY", "unknown_person"),
    "UCONNECT": ("DCONNECT", "identity.outsider"),
    "UGUEST": ("DGUEST", "identity.guest"),
    "UUNVERIFIED": ("DUNVERIFIED", "identity.unverified"),
    "UGONE": ("DGONE", "identity.deactivated"),
}


async def test_people_not_in_the_directory_are_refused_politely(slack: SlackDesk) -> None:
    for channel, _ in REFUSED.values():
        slack.fake.channels[channel] = True
    for user, (channel, _) in REFUSED.items():
        ts = next_ts()
        await slack.event(
            {
                "type": "message",
                "channel": channel,
                "channel_type": "im",
                "user": user,
                "text": "I'm locked out",
                "ts": ts,
                "event_ts": ts,
            }
        )
    await slack.adapter.settled()

    # a stranger; a Slack Connect user, a guest, an unverified and a deactivated account
    # whose addresses are ours: none is taken for the person of that address
    for channel, said in REFUSED.values():
        (refusal,) = slack.fake.in_channel(channel)
        assert refusal.text == texts.say(said)
    for person in ("alice", "bob", "carol", "dave", "zoe"):
        assert await slack.world.tickets.of_requester(person) == []
        assert await slack.desk.cases.ids_of(person) == []


async def test_bots_edits_and_stray_messages_are_not_turns(slack: SlackDesk) -> None:
    ts = next_ts()
    other_bot = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0BUILD",
        "channel": dm("bob"),
        "channel_type": "im",
        "text": "build passed",
        "ts": ts,
    }
    own = {
        "type": "message",
        "bot_id": BOT_ID,
        "user": BOT_USER_ID,
        "channel": dm("bob"),
        "channel_type": "im",
        "text": "I'm locked out",
        "ts": next_ts(),
    }
    bot_user = {**slack.dm_event("bob", "I'm locked out"), "user": "UOTHERBOT"}
    edited = {
        "type": "message",
        "subtype": "message_changed",
        "channel": dm("bob"),
        "channel_type": "im",
        "message": {"user": uid("bob"), "text": "locked out"},
        "ts": next_ts(),
    }
    channel_chat = {
        **slack.dm_event("dave", "anyone seen my mug?"),
        "channel": ONCALL,
        "channel_type": "channel",
    }
    elsewhere = {
        **slack.dm_event("bob", "hello"),
        "channel": GENERAL,
        "channel_type": "channel",
        "thread_ts": "1772440000.000001",
    }
    for event in (other_bot, own, bot_user, edited, channel_chat, elsewhere):
        await slack.event(event)
    await slack.adapter.settled()

    assert slack.fake.messages == []
    assert slack.fake.ephemerals == []
    assert await slack.world.tickets.of_requester("bob") == []
    # only the bot user had to be looked up to be told apart
    assert [c.args["user"] for c in slack.fake.calls_of("users.info")] == ["UOTHERBOT"]


async def test_who_someone_is_is_cached_for_a_while(slack: SlackDesk) -> None:
    await slack.say("bob", "hello")
    await slack.say("bob", "thanks")
    assert len(slack.fake.calls_of("users.info")) == 1
    slack.clock.advance(timedelta(minutes=11))
    await slack.say("bob", "thanks again")
    assert len(slack.fake.calls_of("users.info")) == 2


# --- approvals -----------------------------------------------------------------------------


async def test_an_approval_clicked_by_the_wrong_person_then_the_approver(
    slack: SlackDesk,
) -> None:
    await slack.sms_only("alice")
    await slack.say("alice", "can you give me access to the finance reports group?")
    await slack.say("alice", await slack.sms_code("alice"))

    card = slack.last_dm("carol")  # DM'd to the group's owner, found by her e-mail
    assert [c.args["email"] for c in slack.fake.calls_of("users.lookupByEmail")] == [
        "carol@globex.test"
    ]
    assert [b["text"]["text"] for b in card.buttons()] == ["Approve", "Deny"]
    assert card.button("Deny")["confirm"]["text"]["text"] == "Deny this request?"
    assert card.button("Deny")["style"] == "danger"

    as_first_posted = copy.deepcopy(card)
    # bob sends carol's Approve from his own DM (the payload says bob, and only the payload
    # says who pressed: the button's value is the desk's ref and names nobody)
    await slack.click("bob", card, "Approve", channel=dm("bob"))
    alice = await slack.world.directory.person("alice")
    assert alice is not None
    assert "finance-reports" not in alice.groups
    assert slack.last_dm("bob").text == texts.say("button.not_yours")
    assert slack.fake.message(card.channel, card.ts).edits == 0

    await slack.click("carol", card, "Approve")
    alice = await slack.world.directory.person("alice")
    assert alice is not None
    assert "finance-reports" in alice.groups
    decided = slack.fake.message(card.channel, card.ts)  # the same message, edited in place
    assert decided.edits == 1
    assert decided.buttons() == []
    assert "Carol Nguyen" in decided.words()

    # pressing it again (a double click on a card not yet refreshed) changes nothing
    await slack.click("carol", as_first_posted, "Approve")
    assert slack.fake.message(card.channel, card.ts).edits == 1
    alice = await slack.world.directory.person("alice")
    assert alice is not None
    assert alice.groups.count("finance-reports") == 1


# --- escalations in the on-call channel ------------------------------------------------------


async def test_an_approver_deactivated_since_their_last_message_cannot_approve(
    slack: SlackDesk,
) -> None:
    await slack.sms_only("alice")
    await slack.say("carol", "hi")  # carol's account is looked up, and kept for a while
    await slack.say("alice", "can you give me access to the finance reports group?")
    await slack.say("alice", await slack.sms_code("alice"))
    card = slack.last_dm("carol")
    next(u for u in slack.fake.users if u.id == uid("carol")).deleted = True

    await slack.click("carol", card, "Approve")  # a click is asked of Slack again
    alice = await slack.world.directory.person("alice")
    assert alice is not None
    assert "finance-reports" not in alice.groups
    assert slack.last_dm("carol").text == texts.say("identity.deactivated")


async def test_an_escalation_is_claimed_and_relayed_both_ways(slack: SlackDesk) -> None:
    await slack.say("alice", "my laptop screen is cracked")
    (root,) = slack.fake.in_channel(ONCALL)
    (ticket,) = await slack.world.tickets.of_requester("alice")
    assert ticket.id in root.words()
    assert ticket.id in slack.last_dm("alice").text

    await slack.click("dave", root, "Claim")
    claimed = slack.fake.message(ONCALL, root.ts)
    assert claimed.edits == 1
    assert [b["text"]["text"] for b in claimed.buttons()] == ["Resolve"]
    assert "Claimed by Dave Kowalski" in claimed.words()
    assert "Dave Kowalski" in slack.last_dm("alice").text

    # dave's "@channel" arrives as Slack markup; relayed, it is the word and mentions nobody
    await slack.reply_in_thread("dave", root, "Bring it to the IT bar at 2pm <!channel>")
    assert slack.last_dm("alice").text == texts.say(
        "handoff.from_tech", name="Dave", text="Bring it to the IT bar at 2pm @channel"
    )

    # alice typed "<b>" and "&": Slack sends them as entities, the desk reads the characters,
    # and they are escaped again on the way into the thread
    await slack.say("alice", "thanks &lt;b&gt;see you&lt;/b&gt; then &amp; bye")
    (relayed,) = slack.fake.in_channel(ONCALL, thread_ts=root.ts)
    assert relayed.text == texts.say(
        "handoff.from_requester",
        name="Alice",
        text="thanks &lt;b&gt;see you&lt;/b&gt; then &amp; bye",
    )
    assert slack.fake.in_channel(ONCALL) == [claimed]  # nothing new at the top level

    await slack.click("dave", slack.fake.message(ONCALL, root.ts), "Resolve")
    resolved = slack.fake.message(ONCALL, root.ts)
    assert "Resolved by Dave Kowalski" in resolved.words()
    assert resolved.buttons() == []


async def test_only_people_on_call_may_claim(slack: SlackDesk) -> None:
    await slack.say("bob", "my webcam hardware is broken")
    (root,) = slack.fake.in_channel(ONCALL)
    await slack.click("erin", root, "Claim")  # an admin, not on call
    assert slack.fake.message(ONCALL, root.ts).edits == 0
    (answer,) = slack.fake.in_channel(ONCALL, thread_ts=root.ts)
    assert answer.text == texts.say("button.not_yours")


# --- slash commands ---------------------------------------------------------------------------


async def test_a_slash_command_from_a_non_admin_is_refused_in_an_ephemeral(
    slack: SlackDesk,
) -> None:
    await slack.command("bob", "pause")
    (refusal,) = slack.fake.ephemerals
    assert refusal["user"] == uid("bob")
    assert refusal["channel"] == dm("bob")
    assert refusal["text"] == texts.say("admin.only_admins")
    assert slack.fake.messages == []
    assert not await slack.desk.control.paused()


async def test_a_slash_command_from_an_admin_steers_the_desk(slack: SlackDesk) -> None:
    await slack.command("erin", "pause", channel=GENERAL)  # a channel the desk is not in
    assert await slack.desk.control.paused()
    # the answer could not go where the command was typed, so it went to her DM
    assert "Paused" in slack.last_dm("erin").text

    # help is for her eyes only; an ephemeral cannot be shown where the desk is not, so it
    # comes to her DM
    await slack.command("erin", "help", channel=GENERAL)
    assert slack.fake.ephemerals == []
    assert "/itdesk pause" in slack.last_dm("erin").text

    await slack.command("erin", "help")  # in her DM: an ephemeral there
    (help_text,) = slack.fake.ephemerals
    assert (help_text["user"], help_text["channel"]) == (uid("erin"), dm("erin"))
    assert "/itdesk pause" in help_text["text"]


# --- requests Slack did not sign --------------------------------------------------------------


@pytest.mark.parametrize(
    "forgery",
    ["wrong secret", "stale timestamp", "body changed", "no signature"],
)
async def test_unsigned_forged_and_stale_requests_are_refused(
    slack: SlackDesk, forgery: str
) -> None:
    body = slack.envelope(slack.dm_event("alice", "give me domain admin"))
    now = int(time.time())
    ts, signature = str(now), sign(body, str(now))
    if forgery == "wrong secret":
        signature = sign(body, ts, "not-the-secret")
    elif forgery == "stale timestamp":
        ts = str(now - 6 * 60)
        signature = sign(body, ts)  # correctly signed, but replayed too late
    elif forgery == "body changed":
        body = body.replace("domain admin", "all the access")
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts}
    calls_before = list(slack.fake.calls)  # the start-up check of the token
    if forgery != "no signature":
        headers["X-Slack-Signature"] = signature
    resp = await slack.http.post(EVENTS_PATH, data=body.encode(), headers=headers)
    await slack.adapter.settled()

    assert resp.status == 401
    assert slack.fake.calls == calls_before
    assert slack.fake.messages == []


async def test_slacks_url_check_is_answered(slack: SlackDesk) -> None:
    body = json.dumps(
        {
            "token": "t",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    resp = await slack.post(body, "application/json")
    assert resp.status == 200
    assert (await resp.json())["challenge"].startswith("3eZbrw1aBm2")


# --- Slack misbehaving --------------------------------------------------------------------


async def test_a_429_storm_loses_and_doubles_nothing(slack: SlackDesk) -> None:
    for method in ("users.info", "users.lookupByEmail", "conversations.open", "chat.update"):
        slack.fake.rate_limit(method, times=1, retry_after=0)
    slack.fake.rate_limit("chat.postMessage", times=2, retry_after=0)
    await slack.say("alice", "my laptop screen is cracked")
    (root,) = slack.fake.in_channel(ONCALL)
    await slack.click("dave", root, "Claim")

    texts_in_dm = [m.text for m in slack.dm("alice")]
    (ticket,) = await slack.world.tickets.of_requester("alice")
    assert len(texts_in_dm) == 2  # the escalation notice and the claim notice, once each
    assert ticket.id in texts_in_dm[0]
    assert "Dave Kowalski" in texts_in_dm[1]
    assert len(slack.fake.in_channel(ONCALL)) == 1
    assert slack.fake.message(ONCALL, root.ts).edits == 1
    assert await slack.adapter.state.pending() == 0
    assert len(slack.fake.calls_of("chat.postMessage")) == 2 + 3  # two refused, three posted
    assert len(slack.fake.calls_of("chat.update")) == 1 + 1


async def test_retry_after_is_honoured_in_that_channel_only(slack: SlackDesk) -> None:
    slack.fake.rate_limit("chat.postMessage", times=1, retry_after=1)
    await slack.say("bob", "my keyboard is missing the letter q key")
    refused, posted = slack.fake.calls_of("chat.postMessage")[:2]
    held = refused.args["channel"]
    again = [c for c in slack.fake.calls_of("chat.postMessage") if c.args["channel"] == held]
    assert len(again) == 2
    assert again[1].at - again[0].at >= 1.0
    assert posted.args["channel"] != held  # the other channel did not wait for it
    assert len(slack.dm("bob")) == 1
    assert len(slack.fake.in_channel(ONCALL)) == 1


async def test_dropped_connections_are_retried(slack: SlackDesk) -> None:
    slack.fake.drop("chat.postMessage", times=2)
    await slack.say("bob", "my mouse is physically broken")
    assert len(slack.dm("bob")) == 1
    assert len(slack.fake.in_channel(ONCALL)) == 1


async def test_when_slack_stays_down_messages_wait_in_the_outbox(slack: SlackDesk) -> None:
    slack.fake.fail("chat.postMessage", "service_unavailable", times=2)
    await slack.say("bob", "my docking station is physically broken")
    assert slack.fake.messages == []  # nothing got through, nothing was dropped
    assert await slack.adapter.state.pending() == 2

    assert await slack.adapter.delivery.flush()  # what the retry timer does
    assert await slack.adapter.delivery.flush()  # and again: nothing is posted twice
    assert len(slack.fake.in_channel(ONCALL)) == 1
    (notice,) = slack.dm("bob")
    (ticket,) = await slack.world.tickets.of_requester("bob")
    assert ticket.id in notice.text
    assert await slack.adapter.state.pending() == 0


class Pauses:
    """A sleep that records how long it was asked to pause and returns at once."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def paused_delivery(slack: SlackDesk, pauses: Pauses, retry_delay: float) -> SlackDelivery:
    """The adapter's outbox, with its retry pausing on `pauses` instead of the clock (and a
    pace so fast that no message waits its turn: only the retries pause)."""
    adapter = slack.adapter
    await adapter.settled()  # its own flush at start-up is done and cannot take a fault
    return SlackDelivery(
        adapter.client,
        adapter.state,
        adapter.people,
        oncall_alias=slack.desk.oncall_channel,
        oncall_channel=ONCALL,
        inline_max=adapter.config.choice_inline_max,
        retry_delay=retry_delay,
        pace=UNPACED,
        sleep=pauses,
    )


async def test_an_outage_is_retried_with_doubling_pauses_until_the_outbox_is_empty(
    slack: SlackDesk,
) -> None:
    pauses = Pauses()
    delivery = await paused_delivery(slack, pauses, retry_delay=40.0)
    slack.fake.fail("chat.postMessage", "service_unavailable", times=6)
    hello = Send(to=Address.dm("bob"), reply=Reply(id="M-1", text="hello"))
    await delivery.deliver([hello])
    await delivery.retried()
    assert pauses.seconds == [40.0, 80.0, 160.0, MAX_RETRY_DELAY, MAX_RETRY_DELAY, MAX_RETRY_DELAY]
    assert [m.text for m in slack.dm("bob")] == ["hello"]
    assert await slack.adapter.state.pending() == 0

    # the next outage starts again from the first pause
    slack.fake.fail("chat.postMessage", "service_unavailable", times=1)
    await delivery.deliver([Send(to=Address.dm("bob"), reply=Reply(id="M-2", text="again"))])
    await delivery.retried()
    assert pauses.seconds[6:] == [40.0]
    assert [m.text for m in slack.dm("bob")] == ["hello", "again"]


async def test_a_retry_that_fails_on_redis_is_logged_and_tried_again(
    slack: SlackDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses = Pauses()
    delivery = await paused_delivery(slack, pauses, retry_delay=1.0)
    state = slack.adapter.state
    head_raw, looks = state.head_raw, itertools.count(1)

    async def redis_down_on_the_second_look(lane: str) -> str | None:
        if next(looks) == 2:
            raise ConnectionError("redis is restarting")
        return await head_raw(lane)

    monkeypatch.setattr(state, "head_raw", redis_down_on_the_second_look)
    slack.fake.fail("chat.postMessage", "service_unavailable", times=1)
    with structlog.testing.capture_logs() as logs:
        await delivery.deliver([Send(to=Address.dm("bob"), reply=Reply(id="M-1", text="hi"))])
        await delivery.retried()
    assert pauses.seconds == [1.0, 2.0]
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["slack.flush_failed"]
    assert [m.text for m in slack.dm("bob")] == ["hi"]


async def test_blocks_slack_refuses_still_deliver_the_words(slack: SlackDesk) -> None:
    slack.fake.fail("chat.postMessage", "invalid_blocks", times=1)
    await slack.say("alice", "my laptop screen is cracked")
    (root,) = slack.fake.in_channel(ONCALL)
    (ticket,) = await slack.world.tickets.of_requester("alice")
    assert root.blocks == []
    assert ticket.id in root.text
    assert "could not be shown" in root.text


async def test_deliver_posts_once_updates_in_place_and_keeps_to_its_own_addresses(
    slack: SlackDesk,
) -> None:
    first = Reply(id="M-1", text="Working on it", card=Card(title="Unlock", text="pending"))
    send = Send(to=Address.dm("bob"), reply=first)
    await slack.adapter.deliver([send])
    await slack.adapter.deliver([send])  # delivered again (a retried turn): posted once
    await slack.adapter.settled()
    (posted,) = slack.dm("bob")

    done = first.model_copy(update={"card": Card(title="Unlock", text="done")})
    await slack.adapter.deliver([Update(to=Address.dm("bob"), reply=done)])
    await slack.adapter.settled()
    assert slack.dm("bob") == [posted]
    assert posted.edits == 1
    assert "done" in posted.words()

    # an update of a message Slack never saw is posted, not lost
    await slack.adapter.deliver([Update(to=Address.dm("bob"), reply=Reply(id="M-2", text="new"))])
    await slack.adapter.settled()
    assert [m.text for m in slack.dm("bob")] == ["Working on it", "new"]

    # other platforms' conversations, and an unknown channel, are not Slack's to post to
    await slack.adapter.deliver(
        [
            Send(to=Address(conversation="dm:bob", person="bob"), reply=Reply(id="M-3", text="w")),
            Send(to=Address(channel="marketing"), reply=Reply(id="M-4", text="x")),
            Send(to=Address.dm("zed"), reply=Reply(id="M-5", text="nobody")),
        ]
    )
    await slack.adapter.settled()
    assert len(slack.fake.messages) == 2
    assert await slack.adapter.state.pending() == 0


async def test_a_message_slack_refuses_for_good_does_not_block_the_others(
    slack: SlackDesk,
) -> None:
    slack.fake.fail("chat.postMessage", "restricted_action")
    await slack.adapter.deliver(
        [
            Send(to=Address.dm("bob"), reply=Reply(id="M-1", text="refused")),
            Send(to=Address.dm("bob"), reply=Reply(id="M-2", text="after it")),
        ]
    )
    await slack.adapter.settled()
    assert [m.text for m in slack.dm("bob")] == ["after it"]
    (dead,) = await slack.adapter.state.dead_letters()
    assert dead["effect"]["reply"]["id"] == "M-1"
    assert "restricted_action" in dead["error"]
    assert await slack.adapter.state.pending() == 0


# --- choices and modals ----------------------------------------------------------------------


async def test_a_choice_is_buttons_and_the_click_answers_it(slack: SlackDesk) -> None:
    await slack.say("bob", "please install visual studio code")
    question = slack.last_dm("bob")
    assert {b["text"]["text"] for b in question.buttons()} >= {"LT-2002", "DT-2003"}
    await slack.click("bob", question, "LT-2002")
    laptop = await slack.world.devices.device("LT-2002")
    assert laptop is not None
    assert "visual-studio-code" in laptop.installed


async def test_a_choice_with_many_options_is_a_modal(make_desk: MakeDesk) -> None:
    slack = await make_desk(choice_inline_max=1)
    await slack.say("bob", "please install visual studio code")
    question = slack.last_dm("bob")
    (opener,) = question.buttons()
    assert opener["text"]["text"] == "Choose…"

    await slack.click("bob", question, "Choose…")
    (view,) = slack.fake.views
    assert view["trigger_id"].endswith(".trigger")
    select = view["blocks"][0]["element"]
    labels = {o["text"]["text"]: o["value"] for o in select["options"]}
    assert set(labels) >= {"LT-2002", "DT-2003"}

    def submission(user: str) -> dict[str, Any]:
        return {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": user, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "trigger_id": f"{next(_seq)}.1.trigger",
            "view": {
                "id": view["id"],
                "hash": f"h{next(_seq)}",
                "type": "modal",
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "state": {
                    "values": {
                        "choice": {
                            "option": {
                                "type": "static_select",
                                "selected_option": {
                                    "text": {"type": "plain_text", "text": "LT-2002"},
                                    "value": labels["LT-2002"],
                                },
                            }
                        }
                    }
                },
            },
        }

    # someone else submitting bob's choice is refused; bob's own is taken
    await slack.interact(submission(uid("alice")))
    laptop = await slack.world.devices.device("LT-2002")
    assert laptop is not None
    assert "visual-studio-code" not in laptop.installed
    resp = await slack.interact(submission(uid("bob")))
    assert await resp.text() == ""  # an empty acknowledgement closes the modal
    laptop = await slack.world.devices.device("LT-2002")
    assert laptop is not None
    assert "visual-studio-code" in laptop.installed


# --- configuration ------------------------------------------------------------------------------


def slack_adapter(desk: WiredDesk, store: Store, config: SlackConfig) -> SlackAdapter:
    return SlackAdapter(
        desk, desk.directory, store, config, clock=desk.clock, oncall_alias=desk.oncall_channel
    )


async def test_a_missing_signing_secret_fails_at_start_up(slack: SlackDesk, store: Store) -> None:
    with pytest.raises(SettingsError, match="ITDESK_SLACK_SIGNING_SECRET"):
        load_settings(slack_bot_token="xoxb-1", _env_file=None)
    with pytest.raises(SlackConfigError, match="ITDESK_SLACK_SIGNING_SECRET"):
        slack_adapter(slack.desk, store.child("s2"), SlackConfig(bot_token="xoxb-1"))
    socket_only = slack_adapter(
        slack.desk, store.child("s3"), SlackConfig(bot_token="xoxb-1", app_token="xapp-1")
    )
    with pytest.raises(SlackConfigError, match="ITDESK_SLACK_SIGNING_SECRET"):
        socket_only.mount(web.Application())


async def test_a_refused_bot_token_stops_start_up(slack: SlackDesk, store: Store) -> None:
    config = SlackConfig(
        bot_token="xoxb-revoked", signing_secret=SECRET, api_url=slack.fake.api_url
    )
    adapter = slack_adapter(slack.desk, store.child("s4"), config)
    with pytest.raises(SlackConfigError, match="ITDESK_SLACK_BOT_TOKEN was refused"):
        await adapter.start()


def test_settings_name_what_slack_needs() -> None:
    settings = load_settings(
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        slack_api_url="http://127.0.0.1:9/api",
        slack_oncall_channel="C0ONCALL",
        _env_file=None,
    )
    config = SlackConfig.from_settings(settings)
    assert (config.bot_token, config.signing_secret, config.oncall_channel) == (
        "xoxb-1",
        "s",
        "C0ONCALL",
    )
    assert config.api_url.startswith("http://127.0.0.1:9/api")
    assert "xoxb-1" not in repr(settings)
    with pytest.raises(SettingsError, match="ITDESK_SLACK_BOT_TOKEN"):
        load_settings(slack_app_token="xapp-1", _env_file=None)


async def test_the_runtime_serves_slack_when_configured(redis_url: str, store: Store) -> None:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        async with FakeSlack(users=workspace(), channels={ONCALL: True, dm("bob"): True}) as fake:
            settings = load_settings(
                redis_url=redis_url,
                namespace="slack-runtime",
                web_chat=False,
                slack_bot_token=fake.bot_token,
                slack_signing_secret=SECRET,
                slack_api_url=fake.api_url,
                slack_oncall_channel=ONCALL,
                _env_file=None,
            )
            runtime = await Runtime.start(settings, org=load_org(GLOBEX))
            try:
                async with test_utils.TestClient(test_utils.TestServer(runtime.app)) as http:
                    event = dm_event("bob", "my mouse is physically broken")
                    resp = await signed_post(http, envelope(event), "application/json")
                    assert resp.status == 200
                    async with asyncio.timeout(10):
                        (notice,) = await fake.wait_for_messages(dm("bob"), 1)
                    (ticket,) = await runtime.world.tickets.of_requester("bob")
                    assert ticket.id in notice.text
            finally:
                await runtime.close()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


# --- installing it ---------------------------------------------------------------------------

MANIFEST = Path(__file__).resolve().parents[1] / "adapters" / "chat" / "slack-manifest.yaml"
# the scope each Web API method the adapter calls needs (auth.test needs none)
SCOPE_OF = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "conversations.open": "im:write",
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
    "views.open": "commands",  # any interactivity; the slash command brings it
}


async def test_the_manifest_grants_what_the_adapter_uses(make_desk: MakeDesk) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    settings, features = manifest["settings"], manifest["features"]

    # every method the adapter called through this module's tests is granted
    slack = await make_desk(choice_inline_max=1)
    await slack.sms_only("alice")
    await slack.say("alice", "can you give me access to the finance reports group?")
    await slack.say("alice", await slack.sms_code("alice"))
    await slack.click("carol", slack.last_dm("carol"), "Approve")
    await slack.command("bob", "pause")
    await slack.say("bob", "please install visual studio code")
    await slack.click("bob", slack.last_dm("bob"), "Choose…")
    called = {c.method for c in slack.fake.calls} - {"auth.test"}
    assert called == set(SCOPE_OF)
    assert {SCOPE_OF[m] for m in called} <= scopes
    assert {"im:history", "channels:history", "groups:history"} <= scopes  # the events below

    assert {"message.im", "message.channels", "message.groups"} <= set(
        settings["event_subscriptions"]["bot_events"]
    )
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in features["slash_commands"]),
    ]
    assert all(url.endswith(EVENTS_PATH) for url in urls)
    assert settings["interactivity"]["is_enabled"] is True
    assert [c["command"] for c in features["slash_commands"]] == ["/itdesk"]
    assert features["app_home"]["messages_tab_enabled"] is True  # people can DM the desk
    assert len(manifest["display_information"]["long_description"]) >= 174  # Slack's minimum
