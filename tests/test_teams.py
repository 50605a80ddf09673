"""The Teams adapter over real HTTP: a real desk over the Globex sandbox on the test Redis,
activities posted to `/api/messages` as the Bot Connector posts them, and a fake Bot Connector
(`fakes.bot_connector`) on an ephemeral port receiving what the bot posts back. The adapter
runs in its local, unauthenticated mode here; `test_teams_auth.py` covers the JWT checks."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, test_utils, web
from fakes.bot_connector import BOT, FakeBotConnector, Member, Posted
from redis.asyncio import Redis
from waiting import until

from adapters.chat.teams import TeamsChat
from bot import texts
from bot.app import Runtime
from bot.clock import ManualClock
from bot.inbound import InboxSink
from bot.models import Address, Card, Effect, Person, Reply, Send, Update
from bot.org import load_org
from bot.pipeline import TurnWorker, WorkerConfig
from bot.settings import Settings
from bot.state.inbox import TurnInbox
from bot.store import Store
from bot.wiring import WiredDesk, sandbox_desk
from bot.world import SandboxWorld

GLOBEX = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "orgs" / "globex.yaml"
ONCALL = "19:oncall@thread.tacv2"
MENTION = "<at>IT Desk</at>"


def member(username: str, name: str, *, upn: str | None = None) -> Member:
    return Member(
        id=f"29:{username}",
        name=name,
        aad_object_id=f"aad-{username}",
        upn=upn or f"{username}@globex.test",
        email=f"{username}@globex.test",
    )


ROSTER = [
    member("alice", "Alice Moreau"),
    member("bob", "Bob Okafor"),
    member("carol", "Carol Nguyen"),
    # UPN and e-mail differ: the directory knows the e-mail
    member("dave", "Dave Kowalski", upn="dave.k@globex.onmicrosoft.com"),
    member("erin", "Erin Walsh"),
    member("frank", "Frank Adeyemi"),
    Member(id="29:zed", name="Zed Outsider", aad_object_id="aad-zed", upn="zed@elsewhere.test"),
    # Erin's new account: neither address is in the directory yet, her Entra object id is
    Member(
        id="29:erin2",
        name="Erin Walsh",
        aad_object_id="aad-erin",
        upn="erin.walsh@globex.onmicrosoft.com",
        email="e.walsh@globex.example",
    ),
    # a guest whose external address is one the directory knows
    Member(
        id="29:gus",
        name="Gus Guest",
        aad_object_id="aad-gus",
        upn="bob_globex.test#EXT#@globex.onmicrosoft.com",
        email="bob@globex.test",
        role="guest",
    ),
]


@dataclass
class Harness:
    """Teams as the people of Globex use it: one line per thing someone does."""

    client: test_utils.TestClient[web.Request, web.Application]
    connector: FakeBotConnector
    teams: TeamsChat
    desk: WiredDesk
    world: SandboxWorld
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def who(self, username: str) -> Member:
        return self.connector.roster[f"29:{username}"]

    def dm_of(self, username: str) -> str:
        return self.connector.personal_conversation(self.who(username))

    def activity(self, username: str, **fields: Any) -> dict[str, Any]:
        """A message activity from `username`, in their chat with the bot or (`thread=`) in
        a channel thread."""
        return self.connector.activity(self.who(username).id, **fields)

    async def post(self, activity: dict[str, Any], status: int = 202) -> ClientResponse:
        resp = await self.client.post("/api/messages", json=activity)
        assert resp.status == status, await resp.text()
        return resp

    async def send(self, activity: dict[str, Any]) -> None:
        """Post an activity and wait until the desk has handled it."""
        await self.post(activity)
        await self.teams.idle()

    async def say(self, username: str, text: str) -> None:
        await self.send(self.activity(username, text=text))

    async def say_in_thread(self, username: str, thread: str, text: str) -> None:
        mention = {"type": "mention", "text": MENTION, "mentioned": BOT}
        activity = self.activity(
            username, text=f"{MENTION} {text}", thread=thread, entities=[mention]
        )
        await self.send(activity)

    async def press(
        self, username: str, card: dict[str, Any], title: str, conversation: str | None = None
    ) -> None:
        """Submit a card's button as Teams does: the button's data as the activity's value."""
        await self.send(
            self.activity(username, value=submit_data(card, title), thread=conversation)
        )

    def dm(self, username: str) -> list[Posted]:
        return self.connector.messages(self.dm_of(username))

    async def code_for(self, username: str) -> str:
        items = [i for i in await self.world.outbox.items(username) if i.kind == "code"]
        assert items, f"no one-time code was sent to {username}"
        secret = items[-1].secret
        assert secret is not None
        return secret


def actions(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["title"]: a for a in card.get("actions", [])}


def submit_data(card: dict[str, Any], title: str) -> dict[str, Any]:
    """The data a click on the button titled `title` submits (through its confirmation)."""
    action = actions(card)[title]
    if action["type"] == "Action.ShowCard":
        (action,) = action["card"]["actions"]
    assert action["type"] == "Action.Submit"
    data: dict[str, Any] = action["data"]
    return data


def texts_of(card: dict[str, Any]) -> list[str]:
    return [block["text"] for block in card["body"] if block["type"] == "TextBlock"]


def teams_settings(connector_url: str, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        teams_allow_unauthenticated=True,  # type: ignore[call-arg]
        teams_oncall_channel=ONCALL,
        teams_service_url=connector_url,
        **extra,
    )


@pytest.fixture
async def connector() -> AsyncIterator[FakeBotConnector]:
    fake = FakeBotConnector()
    for person in ROSTER:
        fake.add_member(person)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@asynccontextmanager
async def running(
    store: Store, connector: FakeBotConnector, settings: Settings, **options: Any
) -> AsyncIterator[Harness]:
    """A desk over Globex with the Teams adapter mounted on an app served on a free port."""
    org = load_org(GLOBEX)
    assert org.now is not None
    clock = ManualClock(org.now)
    world = await SandboxWorld.create(store.child("world"), org, clock)
    desk = sandbox_desk(store, world, clock)
    teams = TeamsChat(
        desk,
        desk.directory,
        store.child("teams"),
        settings,
        clock=desk.clock,
        oncall_alias=desk.oncall_channel,
        **options,
    )
    app = web.Application()
    teams.mount(app)
    async with test_utils.TestClient(test_utils.TestServer(app, host="127.0.0.1")) as client:
        yield Harness(client, connector, teams, desk, world)


@pytest.fixture
async def bot(store: Store, connector: FakeBotConnector) -> AsyncIterator[Harness]:
    async with running(store, connector, teams_settings(connector.url)) as harness:
        yield harness


# --- a request resolved after step-up ------------------------------------------------------


async def test_a_dm_resolves_a_request_after_step_up(bot: Harness) -> None:
    await bot.say("bob", "forgot my password, can you reset it?")
    (ask,) = bot.dm("bob")
    assert "code" in ask.text
    assert ask.latest["textFormat"] == "plain"  # shown as written, never as markup
    assert bot.connector.calls("GET", "/members/29:bob")  # who is typing: the members lookup

    await bot.say("bob", await bot.code_for("bob"))
    confirmed, done = bot.dm("bob")[1:]
    assert confirmed.text == texts.say("step_up.passed")
    card = done.card
    assert card is not None
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.5"
    assert texts_of(card)[0] == texts.say("result.done_title")
    assert set(actions(card)) == {"Helped", "Didn't help"}
    for action in actions(card).values():  # a click carries the desk's ref and nothing else
        assert action["type"] == "Action.Submit"
        assert set(action["data"]) == {"itdesk"}
        assert set(action["data"]["itdesk"]) == {"action", "ref"}
    kinds = [item.kind for item in await bot.world.outbox.items("bob")]
    assert "reset_link" in kinds
    # everything went to bob's own chat, as plain posts
    posts = {r.path for r in bot.connector.calls("POST")}
    assert posts == {f"/v3/conversations/{bot.dm_of('bob')}/activities"}


async def test_a_wrong_code_is_not_accepted(bot: Harness) -> None:
    await bot.say("bob", "forgot my password, can you reset it?")
    code = await bot.code_for("bob")
    await bot.say("bob", "000000" if code != "000000" else "111111")
    assert bot.dm("bob")[-1].text == texts.say("step_up.code_wrong")
    assert "reset_link" not in [i.kind for i in await bot.world.outbox.items("bob")]


# --- approvals -------------------------------------------------------------------------------


async def test_an_approval_card_reaches_a_manager_who_never_wrote_and_is_decided_in_place(
    bot: Harness,
) -> None:
    await bot.say("bob", "can I get access to finance archive?")
    await bot.say("bob", await bot.code_for("bob"))

    # carol never wrote to the bot: the desk found her and opened a chat with her
    (created,) = bot.connector.created
    assert created["isGroup"] is False
    assert created["members"] == [{"id": "29:carol"}]
    assert created["channelData"]["tenant"]["id"] == bot.connector.tenant_id
    assert bot.connector.calls("GET", "/members/carol@globex.test")
    (approval,) = bot.dm("carol")
    card = approval.card
    assert card is not None
    assert "Bob Okafor" in texts_of(card)[0]
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert facts
    assert all(set(f) == {"title", "value"} for f in facts)
    assert actions(card)["Approve"]["style"] == "positive"
    deny = actions(card)["Deny"]
    assert deny["type"] == "Action.ShowCard"  # the confirmation question comes first
    assert texts_of(deny["card"]) == ["Deny this request?"]

    # dave replays the approve button from his own chat: not his to press
    await bot.press("dave", card, "Approve")
    assert bot.dm("dave")[-1].text == texts.say("button.not_yours")
    assert len(approval.versions) == 1
    bob = await bot.world.directory.person("bob")
    assert bob is not None
    assert "finance-archive" not in bob.groups

    # carol approves: the card changes in place and bob is told
    await bot.press("carol", card, "Approve")
    bob = await bot.world.directory.person("bob")
    assert bob is not None
    assert "finance-archive" in bob.groups
    (approval,) = bot.dm("carol")
    assert len(approval.versions) == 2
    decided = approval.card
    assert decided is not None
    assert "actions" not in decided
    assert "Approved by Carol Nguyen" in texts_of(decided)
    assert bot.connector.calls("PUT", f"/activities/{approval.id}")
    assert any("Carol Nguyen" in m.text for m in bot.dm("bob")[-3:])
    assert len(bot.connector.created) == 1  # carol's chat is remembered, not opened again


async def test_an_approver_is_looked_up_in_every_team_the_app_is_in(bot: Harness) -> None:
    everyone = "19:everyone@thread.tacv2"  # an org-wide team
    bot.connector.memberships[ONCALL] = {"29:dave", "29:erin"}  # carol is not in IT's team
    added = bot.activity("erin", thread=everyone, team=everyone)
    added.update(type="conversationUpdate", membersAdded=[BOT])
    await bot.send(added)  # the app was added to the org-wide team

    await bot.say("bob", "can I get access to finance archive?")
    await bot.say("bob", await bot.code_for("bob"))
    lookups = [r.path for r in bot.connector.calls("GET", "/members/carol@globex.test")]
    assert lookups == [
        f"/v3/conversations/{ONCALL}/members/carol@globex.test",
        f"/v3/conversations/{everyone}/members/carol@globex.test",
    ]
    (approval,) = bot.dm("carol")
    assert approval.card is not None


async def test_an_install_keeps_the_chat_for_proactive_messages(bot: Harness) -> None:
    install = bot.activity("frank")
    install.update(type="installationUpdate", action="add")
    await bot.send(install)
    await bot.teams.deliver([Send(to=Address.dm("frank"), reply=Reply(id="M-1", text="Hi"))])
    (hello,) = bot.dm("frank")
    assert hello.text == "Hi"
    assert bot.connector.created == []  # no new chat needed


async def test_people_outside_teams_and_other_platforms_are_skipped(bot: Harness) -> None:
    await bot.teams.deliver(
        [
            Send(to=Address.dm("grace"), reply=Reply(id="M-1", text="not in Teams")),
            Send(
                to=Address(conversation="dm:bob", person="bob"),
                reply=Reply(id="M-2", text="a web chat message"),
            ),
            Update(to=Address.dm("bob"), reply=Reply(id="M-404", text="never posted here")),
        ]
    )
    assert bot.connector.posted == {}
    lookups = len(bot.connector.calls("GET", "/members/"))
    assert lookups == 1  # grace was looked up once...
    await bot.teams.deliver([Send(to=Address.dm("grace"), reply=Reply(id="M-3", text="again"))])
    assert len(bot.connector.calls("GET", "/members/")) == lookups  # ...and remembered


async def test_a_retried_delivery_posts_once_and_updates_in_place(bot: Harness) -> None:
    first = Reply(id="M-1", text="Working on it", card=Card(title="Unlock", text="pending"))
    await bot.say("alice", "hi")  # alice's chat is known from here on
    before = len(bot.dm("alice"))
    await bot.teams.deliver([Send(to=Address.dm("alice"), reply=first)] * 2)
    done = first.model_copy(update={"card": Card(title="Unlock", text="done")})
    await bot.teams.deliver([Update(to=Address.dm("alice"), reply=done)])
    posted = bot.dm("alice")[before:]
    assert len(posted) == 1
    card = posted[0].card
    assert card is not None
    assert texts_of(card) == ["Unlock", "done"]
    assert posted[0].text == "Working on it"


# --- escalations -----------------------------------------------------------------------------


async def test_a_claimed_escalation_is_relayed_both_ways(bot: Harness) -> None:
    await bot.say("alice", "my laptop screen is cracked")
    (thread_create,) = bot.connector.created
    assert thread_create["isGroup"] is True
    assert thread_create["channelData"]["channel"]["id"] == ONCALL
    (thread,) = [c for c in bot.connector.posted if c.startswith(ONCALL)]
    (root,) = bot.connector.messages(thread)
    card = root.card
    assert card is not None
    (ticket,) = await bot.world.tickets.of_requester("alice")
    assert ticket.id in texts_of(card)[0]
    assert ticket.id in bot.dm("alice")[-1].text

    # alice cannot claim; dave (on call) can, from the thread
    await bot.press("alice", card, "Claim")
    assert bot.dm("alice")[-1].text == texts.say("button.not_yours")
    await bot.press("dave", card, "Claim", conversation=thread)
    (root,) = bot.connector.messages(thread)[:1]
    claimed = root.card
    assert claimed is not None
    assert len(root.versions) == 2  # the same card, replaced in place
    assert "Claimed by Dave Kowalski" in texts_of(claimed)
    assert list(actions(claimed)) == ["Resolve"]
    assert "Dave Kowalski" in bot.dm("alice")[-1].text

    await bot.say_in_thread("dave", thread, "I have a spare screen, bring it by at 2")
    assert bot.dm("alice")[-1].text == texts.say(
        "handoff.from_tech", name="Dave", text="I have a spare screen, bring it by at 2"
    )
    await bot.say("alice", "great, see you at 2")
    assert bot.connector.messages(thread)[-1].text == texts.say(
        "handoff.from_requester", name="Alice", text="great, see you at 2"
    )

    await bot.press("dave", claimed, "Resolve", conversation=thread)
    resolved = bot.connector.messages(thread)[0].card
    assert resolved is not None
    assert "Resolved by Dave Kowalski" in texts_of(resolved)
    assert "actions" not in resolved


async def test_a_request_typed_in_a_channel_is_not_read(bot: Harness) -> None:
    await bot.say_in_thread("alice", ONCALL, "my laptop screen is cracked")
    assert bot.connector.posted == {}
    assert await bot.world.tickets.of_requester("alice") == []


# --- admin commands ----------------------------------------------------------------------------


async def test_admin_commands_are_messages_starting_with_itdesk(bot: Harness) -> None:
    await bot.say("alice", "/itdesk pause")
    assert bot.dm("alice")[-1].text == texts.say("admin.only_admins")
    assert not await bot.desk.control.paused()

    await bot.say("erin", "/itdesk stats")
    stats = bot.dm("erin")[-1].card
    assert stats is not None
    assert texts_of(stats)[0] == "Desk statistics"
    await bot.say("erin", "/itdesk pause")
    assert await bot.desk.control.paused()
    assert await bot.world.tickets.of_requester("erin") == []  # commands are not requests


async def test_a_command_refused_in_a_channel_is_answered_in_private(bot: Harness) -> None:
    await bot.say_in_thread("alice", ONCALL, "/itdesk pause")
    assert bot.dm("alice")[-1].text == texts.say(
        "admin.only_admins"
    )  # Teams has no ephemeral messages
    assert not [c for c in bot.connector.posted if c.startswith(ONCALL)]
    assert not await bot.desk.control.paused()


# --- delivery semantics --------------------------------------------------------------------------


async def test_a_duplicate_activity_is_handled_once(bot: Harness) -> None:
    activity = bot.activity("bob", text="my docking station is physically broken")
    await bot.send(activity)
    await bot.send(activity)  # the Bot Connector retried
    assert len(await bot.world.tickets.of_requester("bob")) == 1
    assert len(bot.dm("bob")) == 1


async def test_the_connector_is_answered_before_the_desk_is_done(bot: Harness) -> None:
    gate = asyncio.Event()
    bot.connector.member_gate = gate  # the members lookup hangs until released
    try:
        async with asyncio.timeout(10):
            await bot.post(bot.activity("alice", text="my laptop screen is cracked"))
        assert bot.dm("alice") == []  # answered; the desk is still waiting for the lookup
    finally:
        gate.set()
    await bot.teams.idle()
    assert bot.dm("alice")


async def test_a_teams_user_outside_the_directory_is_told_so(bot: Harness) -> None:
    await bot.say("zed", "I'm locked out")
    (reply,) = bot.dm("zed")
    assert reply.text == texts.say("unknown_person")


async def test_a_person_is_found_by_the_entra_object_id_where_the_directory_keeps_it(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def by_cloud_id(object_id: str) -> Person | None:
        return await bot.world.directory.person("erin") if object_id == "aad-erin" else None

    monkeypatch.setattr(bot.world.directory, "person_by_cloud_id", by_cloud_id)
    await bot.say("erin2", "my laptop screen is cracked")
    (ticket,) = await bot.world.tickets.of_requester("erin")
    assert ticket.id in bot.dm("erin2")[-1].text
    await bot.say("zed", "I'm locked out")  # an id the directory does not keep: by address
    assert bot.dm("zed")[-1].text == texts.say("unknown_person")


async def test_a_guest_of_the_tenant_is_refused_whatever_address_they_carry(
    bot: Harness,
) -> None:
    await bot.say("gus", "I'm locked out")
    (reply,) = bot.dm("gus")
    assert reply.text == texts.say("identity.guest")
    assert await bot.desk.cases.ids_of("bob") == []


async def test_a_sender_the_members_lookup_does_not_know_is_told_so(bot: Harness) -> None:
    activity = bot.activity("zed", text="I'm locked out")
    chat = bot.dm_of("zed")
    del bot.connector.roster["29:zed"]  # the lookup answers 404
    await bot.send(activity)
    (reply,) = bot.connector.messages(chat)
    assert reply.text == texts.say("unknown_person")


async def test_a_failed_members_lookup_asks_to_try_again(bot: Harness) -> None:
    bot.connector.member_status = 403
    await bot.say("alice", "my laptop screen is cracked")
    (reply,) = bot.dm("alice")
    assert reply.text == texts.say("try_again")  # not "you are not in the directory"
    assert await bot.world.tickets.of_requester("alice") == []


async def test_an_email_different_from_the_upn_still_finds_the_person(bot: Harness) -> None:
    await bot.say("dave", "/itdesk stats")  # dave's UPN is not in the directory, his e-mail is
    assert bot.dm("dave")[-1].text == texts.say(
        "admin.only_admins"
    )  # known (as dave), just not an admin


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"type": "message"}', "application/json", 400),
        (b'{"type": "message", "text": "hi"}', "text/plain", 415),
    ],
)
async def test_malformed_activities_are_refused(
    bot: Harness, body: bytes, content_type: str, status: int
) -> None:
    resp = await bot.client.post("/api/messages", data=body, headers={"Content-Type": content_type})
    assert resp.status == status
    assert (await resp.json())["error"]
    await bot.teams.idle()
    assert bot.connector.requests == []


async def test_invokes_and_other_activities_change_nothing(bot: Harness) -> None:
    invoke = bot.activity("alice", name="adaptiveCard/action")
    invoke["type"] = "invoke"
    resp = await bot.post(invoke, status=200)
    assert await resp.json() == {}
    typing = bot.activity("alice")
    typing["type"] = "typing"
    await bot.send(typing)
    assert bot.connector.requests == []


@dataclass
class Recorder:
    effects: list[Effect] = field(default_factory=list)

    async def deliver(self, effects: Sequence[Effect]) -> None:
        self.effects.extend(effects)


async def test_turn_effects_go_to_the_runtimes_outbound(
    store: Store, connector: FakeBotConnector
) -> None:
    recorder = Recorder()  # the runtime passes its fan-out to every platform
    async with running(store, connector, teams_settings(connector.url), outbound=recorder) as bot:
        await bot.say("alice", "my laptop screen is cracked")
    assert {e.to.channel for e in recorder.effects} == {"oncall", None}
    assert connector.posted == {}  # the fan-out, not the adapter, delivers them


# --- wiring ---------------------------------------------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_app_serves_teams_only_when_configured(
    redis_url: str, redis: object, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    monkeypatch.setattr("bot.app.configure_logging", lambda *args, **kwargs: None)
    settings = Settings(
        _env_file=None, redis_url=redis_url, web_chat=False, teams_allow_unauthenticated=enabled
    )
    runtime = await Runtime.start(settings, org=load_org(GLOBEX))
    try:
        routes = {
            (r.method, r.resource.canonical) for r in runtime.app.router.routes() if r.resource
        }
        assert (("POST", "/api/messages") in routes) is enabled
    finally:
        await runtime.close()


async def test_an_activity_the_inbox_cannot_keep_gets_503_and_its_retry_is_handled_once(
    store: Store, connector: FakeBotConnector
) -> None:
    gone = TurnInbox(Store(Redis.from_url("redis://127.0.0.1:9/0"), "test"))
    sink = InboxSink(gone)
    async with running(store, connector, teams_settings(connector.url), sink=sink) as bot:
        activity = bot.activity("bob", text="my docking station is physically broken")
        await bot.post(activity, status=503)  # not kept, so not acknowledged
        assert bot.dm("bob") == []
        kept = TurnInbox(store.child("inbox"))
        sink.inbox = kept  # Redis is back; the connector delivers it again
        await bot.post(activity)
        await bot.post(activity)
        worker = TurnWorker(kept, {"msteams": bot.teams}, metrics=bot.desk.metrics,
                            config=WorkerConfig(lease_ms=600, block_ms=100))  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))

        async def answered() -> bool:
            return not await kept.backlog() and bool(bot.dm("bob"))

        await until(answered)
        stop.set()
        await task
        assert len(await bot.world.tickets.of_requester("bob")) == 1
        assert len(bot.dm("bob")) == 1
