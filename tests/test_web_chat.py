"""The web chat over real HTTP: a real desk over a sandbox world on the test Redis, the page's
JSON API and its live event stream, served on an ephemeral port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, test_utils, web
from redis.exceptions import ConnectionError as RedisConnectionError

from adapters.chat.web import MAX_TEXT, WebChat
from adapters.chat.web_sandbox import SandboxPanel
from adapters.notify.sandbox import new_outbox_item
from bot import texts
from bot.clock import ManualClock
from bot.models import Address, Card, Ephemeral, Reply, Send, Update
from bot.org import load_org
from bot.store import Store
from bot.wiring import WiredDesk, sandbox_desk
from bot.world import SandboxWorld

API = "/web/api"
GLOBEX = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "orgs" / "globex.yaml"


@dataclass
class Page:
    """The web chat as a page uses it: one line per thing a person does."""

    client: test_utils.TestClient[web.Request, web.Application]
    desk: WiredDesk
    world: SandboxWorld
    chat: WebChat

    async def get(self, path: str, status: int = 200) -> Any:
        resp = await self.client.get(API + path)
        assert resp.status == status, await resp.text()
        return await resp.json()

    async def post(self, path: str, body: Any, status: int = 200) -> Any:
        resp = await self.client.post(API + path, json=body)
        assert resp.status == status, await resp.text()
        return await resp.json()

    async def say(self, who: str, text: str, status: int = 200, **extra: Any) -> Any:
        return await self.post(f"/people/{who}/messages", {"text": text, **extra}, status)

    async def dm(self, who: str) -> list[dict[str, Any]]:
        data = await self.get(f"/people/{who}/conversation")
        messages: list[dict[str, Any]] = data["messages"]
        return messages

    async def threads(self, who: str) -> list[dict[str, Any]]:
        data = await self.get(f"/people/{who}/oncall")
        threads: list[dict[str, Any]] = data["threads"]
        return threads

    async def press(self, who: str, button: dict[str, Any], thread: str | None = None) -> Any:
        body = {"action": button["action"], "ref": button["ref"]}
        return await self.post(
            f"/people/{who}/clicks", body | ({"thread": thread} if thread else {})
        )

    async def reply_in_thread(self, who: str, thread: str, text: str) -> Any:
        return await self.post(f"/people/{who}/oncall/{thread}/messages", {"text": text})


@pytest.fixture
async def page(store: Store) -> AsyncIterator[Page]:
    org = load_org(GLOBEX)
    assert org.now is not None
    clock = ManualClock(org.now)
    world = await SandboxWorld.create(store.child("world"), org, clock)
    desk = sandbox_desk(store, world, clock)
    chat = WebChat(
        desk,
        desk.directory,
        SandboxPanel(world, clock),
        store.child("web"),
        clock=clock,
        oncall_channel=desk.oncall_channel,
    )
    app = web.Application()
    chat.mount(app)
    async with test_utils.TestClient(test_utils.TestServer(app, host="127.0.0.1")) as client:
        yield Page(client, desk, world, chat)


def button(message: dict[str, Any], label: str) -> dict[str, Any]:
    card = message["card"]
    assert card is not None, message
    found = [b for b in card["buttons"] if b["label"] == label]
    assert found, f"no {label!r} button on {card['title']!r}"
    result: dict[str, Any] = found[0]
    return result


async def sse_events(resp: ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    """The (event, data) pairs of a Server-Sent Events response, as they arrive."""
    event, data = "message", ""
    while line := await resp.content.readline():
        text = line.decode().rstrip("\n")
        if text.startswith("event: "):
            event = text[7:]
        elif text.startswith("data: "):
            data += text[6:]
        elif not text and data:
            yield event, json.loads(data)
            event, data = "message", ""


# --- the page and the people -------------------------------------------------------------


async def test_the_page_and_its_assets_are_served(page: Page) -> None:
    resp = await page.client.get("/")
    assert resp.status == 200
    html = await resp.text()
    assert "/web/static/app.js" in html
    assert "/web/static/app.css" in html
    assert "script-src" not in html  # no inline policy games: the CSP header is the policy
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    for asset in ("app.js", "app.css", "favicon.svg"):
        assert (await page.client.get(f"/web/static/{asset}")).status == 200


async def test_people_lists_the_org_with_roles(page: Page) -> None:
    data = await page.get("/people")
    assert data["org"] == "Globex"
    people = {p["username"]: p for p in data["people"]}
    assert people["alice"] == {
        "username": "alice", "name": "Alice Moreau", "initials": "AM",
        "title": "Financial Analyst", "department": "Finance", "roles": [],
        "sees_oncall": False,
    }  # fmt: skip
    assert people["dave"]["roles"] == ["oncall"]
    assert people["dave"]["sees_oncall"]
    assert people["erin"]["roles"] == ["admin"]
    assert people["erin"]["sees_oncall"]
    # the starter suggestions name this org's own groups and catalogue, never a fixed list
    names = {g.name for g in await page.world.directory.groups() if not g.sensitive}
    apps = {s.name for s in await page.world.devices.catalogue()}
    suggestions = " ".join(data["suggestions"])
    assert any(name in suggestions for name in names)
    assert any(app in suggestions for app in apps)


async def test_unknown_person_is_404_everywhere(page: Page) -> None:
    for path in ("/conversation", "/phone", "/oncall", "/events"):
        data = await page.get(f"/people/zed{path}", status=404)
        assert data["error"] == "unknown_person"
        assert "zed" in data["message"]
    await page.post("/people/zed/messages", {"text": "hello"}, status=404)
    assert await page.world.tickets.of_requester("zed") == []


# --- a request, an escalation, a claim and a relayed reply -------------------------------


async def test_a_request_is_escalated_to_the_oncall_channel(page: Page) -> None:
    result = await page.say("alice", "my second monitor is cracked and flickers")
    assert result["effects"] >= 2

    dm = await page.dm("alice")
    assert [m["author"] for m in dm] == ["alice", "desk"]
    assert dm[0]["text"] == "my second monitor is cracked and flickers"
    (ticket,) = await page.world.tickets.of_requester("alice")
    assert ticket.id in dm[1]["text"]

    (thread,) = await page.threads("dave")
    root = thread["messages"][0]
    assert root["card"]["kind"] == "escalation"
    assert ticket.id in root["card"]["title"]
    assert button(root, "Claim")["style"] == "primary"
    assert await page.threads("erin") == [thread]  # admins see the channel too

    denied = await page.get("/people/alice/oncall", status=403)
    assert denied["error"] == "not_on_call"


async def test_oncall_claims_replies_and_the_requester_sees_it(page: Page) -> None:
    await page.say("alice", "my laptop screen is cracked")
    (thread,) = await page.threads("dave")
    case_id, root = thread["id"], thread["messages"][0]

    await page.press("dave", button(root, "Claim"), thread=case_id)
    (thread,) = await page.threads("dave")
    claimed = thread["messages"][0]
    assert claimed["id"] == root["id"]  # the card was replaced in place
    assert claimed["edited_at"] is not None
    assert claimed["card"]["context"] == "Claimed by Dave Kowalski"
    assert [b["label"] for b in claimed["card"]["buttons"]] == ["Resolve"]
    assert "Dave Kowalski" in (await page.dm("alice"))[-1]["text"]

    await page.reply_in_thread("dave", case_id, "I have a spare screen, bring it by at 2")
    (thread,) = await page.threads("dave")
    assert thread["messages"][-1]["author"] == "dave"  # dave's own words in the thread
    last = (await page.dm("alice"))[-1]
    assert last["author"] == "desk"
    assert last["text"] == texts.say(
        "handoff.from_tech", name="Dave", text="I have a spare screen, bring it by at 2"
    )

    await page.say("alice", "that worked, thanks")
    (thread,) = await page.threads("dave")
    assert thread["messages"][-1]["text"] == texts.say(
        "handoff.from_requester", name="Alice", text="that worked, thanks"
    )

    await page.press("dave", button(thread["messages"][0], "Resolve"), thread=case_id)
    (thread,) = await page.threads("dave")
    assert thread["messages"][0]["card"]["context"] == "Resolved by Dave Kowalski"
    assert thread["messages"][0]["card"]["buttons"] == []


async def test_only_oncall_people_may_claim(page: Page) -> None:
    await page.say("alice", "my keyboard is missing the letter q key")
    (thread,) = await page.threads("erin")  # erin is an admin, not on call
    await page.press("erin", button(thread["messages"][0], "Claim"), thread=thread["id"])
    (thread,) = await page.threads("erin")
    assert [b["label"] for b in thread["messages"][0]["card"]["buttons"]] == ["Claim"]
    assert thread["messages"][-1]["text"] == texts.say("button.not_yours")


async def test_a_retried_send_is_handled_once(page: Page) -> None:
    await page.say("bob", "my docking station is physically broken", id="evt-1")
    await page.say("bob", "my docking station is physically broken", id="evt-1")
    assert [m["author"] for m in await page.dm("bob")] == ["bob", "desk"]
    assert len(await page.world.tickets.of_requester("bob")) == 1


async def test_a_slash_command_is_a_command_turn(page: Page) -> None:
    await page.say("alice", "/itdesk pause")
    mine, answer = await page.dm("alice")
    assert mine["command"] is True
    assert mine["text"] == "/itdesk pause"
    assert answer["text"] == texts.say("admin.only_admins")
    assert await page.world.tickets.of_requester("alice") == []  # not a request


# --- live updates ------------------------------------------------------------------------


async def test_the_live_stream_carries_the_desks_reply(page: Page) -> None:
    stream = await page.client.get(f"{API}/people/alice/events")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(stream)
    async with asyncio.timeout(10):
        assert (await anext(events))[0] == "ready"
        sending = asyncio.create_task(page.say("alice", "the battery of my laptop is swollen"))
        seen: list[tuple[str, Any]] = []
        async for event, data in events:
            seen.append((event, data))
            if event == "message" and data["message"]["author"] == "desk":
                break
        await sending
    kinds = [event for event, _ in seen]
    assert kinds[0] == "message"
    assert seen[0][1]["message"]["author"] == "alice"
    assert "oncall" not in kinds  # alice is not in the on-call channel
    (ticket,) = await page.world.tickets.of_requester("alice")
    assert ticket.id in seen[-1][1]["message"]["text"]
    stream.close()


async def test_the_oncall_stream_carries_new_threads(page: Page) -> None:
    stream = await page.client.get(f"{API}/people/dave/events")
    events = sse_events(stream)
    async with asyncio.timeout(10):
        assert (await anext(events))[0] == "ready"
        sending = asyncio.create_task(page.say("bob", "my laptop fan is broken and grinds"))
        async for event, data in events:  # noqa: B007 (the last one is used below)
            if event == "oncall":
                break
        await sending
    assert data["thread"] == (await page.threads("dave"))[0]["id"]
    assert data["message"]["card"]["kind"] == "escalation"
    stream.close()


# --- the phone ----------------------------------------------------------------------------


async def test_a_step_up_push_is_answered_from_the_phone(page: Page) -> None:
    await page.say("alice", "I'm locked out of my account")  # alice is locked in the org
    assert "phone" in (await page.dm("alice"))[-1]["text"]
    (push,) = (await page.get("/people/alice/phone"))["items"]
    assert push["kind"] == "push"
    assert push["answerable"] is True
    assert "ref" not in push  # the push's token stays server-side

    # someone else's phone, and an answer that is not approve or deny, change nothing
    await page.post(f"/people/bob/phone/{push['id']}/approve", {}, status=404)
    await page.post(f"/people/alice/phone/{push['id']}/maybe", {}, status=404)
    person = await page.world.directory.person("alice")
    assert person is not None
    assert person.locked

    await page.post(f"/people/alice/phone/{push['id']}/approve", {})
    person = await page.world.directory.person("alice")
    assert person is not None
    assert not person.locked
    status = (await page.dm("alice"))[-1]
    assert status["card"]["kind"] == "status"
    phone = (await page.get("/people/alice/phone"))["items"]
    assert phone[-1]["id"] == push["id"]  # newest first: the push came before the notices
    assert phone[-1]["status"] == "approved"
    data = await page.post(f"/people/alice/phone/{push['id']}/deny", {}, status=409)
    assert data["error"] == "push_closed"


async def test_a_click_claiming_an_answer_is_not_taken_for_one(page: Page) -> None:
    await page.say("alice", "I'm locked out of my account")
    (push,) = (await page.get("/people/alice/phone"))["items"]
    item = await page.world.outbox.item(push["id"])
    assert item is not None
    assert item.ref is not None

    # the page never answered the push: a hand-made "it was answered" click changes nothing
    await page.post("/people/alice/clicks", {"action": "check.answered", "ref": item.ref})

    assert (await page.dm("alice"))[-1]["text"] == texts.say("step_up.waiting")
    person = await page.world.directory.person("alice")
    assert person is not None
    assert person.locked
    assert (await page.world.checks.result(item.ref)).status == "pending"
    await page.post(f"/people/alice/phone/{push['id']}/deny", {})  # answered on the phone
    assert texts.say("step_up.failed_retry") in [m["text"] for m in await page.dm("alice")]
    person = await page.world.directory.person("alice")
    assert person is not None
    assert person.locked


async def test_the_phone_shows_codes_which_cannot_be_approved(page: Page) -> None:
    code = new_outbox_item(page.desk.clock, to="alice", channel="sms", address="+44 •••• ••12",
                           kind="code", text="Your code", secret="482913")  # fmt: skip
    await page.world.outbox.deliver(code)
    (item,) = (await page.get("/people/alice/phone"))["items"]
    assert item["secret"] == "482913"
    assert not item["answerable"]
    data = await page.post(f"/people/alice/phone/{code.id}/approve", {}, status=409)
    assert data["error"] == "not_a_push"


async def test_a_push_with_no_check_behind_it_cannot_be_answered(page: Page) -> None:
    push = new_outbox_item(page.desk.clock, to="alice", channel="push", address="Alice's phone",
                           kind="push", text="Approve?", ref="chk-none", status="pending",
                           ttl=timedelta(minutes=5))  # fmt: skip
    await page.world.outbox.deliver(push)
    data = await page.post(f"/people/alice/phone/{push.id}/approve", {}, status=404)
    assert data["error"] == "unknown_item"
    assert await page.dm("alice") == []


async def test_an_expired_push_cannot_be_answered(page: Page) -> None:
    clock = page.desk.clock
    assert isinstance(clock, ManualClock)
    push = new_outbox_item(clock, to="alice", channel="push", address="Alice's phone",
                           kind="push", text="Approve?", ref="tok", status="pending",
                           ttl=timedelta(minutes=5))  # fmt: skip
    await page.world.outbox.deliver(push)
    clock.advance(timedelta(minutes=6))
    (item,) = (await page.get("/people/alice/phone"))["items"]
    assert item["status"] == "expired"
    assert not item["answerable"]
    data = await page.post(f"/people/alice/phone/{push.id}/deny", {}, status=409)
    assert data["error"] == "push_closed"


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "error", "field"),
    [
        (b"{not json", 400, "malformed_json", None),
        (b"[1, 2]", 400, "invalid_request", None),
        (b"{}", 400, "invalid_request", "text"),
        (b'{"text": "   "}', 400, "invalid_request", "text"),
        (b'{"text": 42}', 400, "invalid_request", "text"),
        (b'{"text": "hi", "admin": true}', 400, "invalid_request", "admin"),
        (b'{"text": "hi", "id": "no spaces allowed"}', 400, "invalid_request", "id"),
        (json.dumps({"text": "x" * (MAX_TEXT + 1)}).encode(), 400, "invalid_request", "text"),
    ],
)
async def test_bad_messages_are_rejected_and_change_nothing(
    page: Page, body: bytes, status: int, error: str, field: str | None
) -> None:
    resp = await page.client.post(f"{API}/people/alice/messages", data=body,
                                  headers={"Content-Type": "application/json"})  # fmt: skip
    assert resp.status == status
    data = await resp.json()
    assert data["error"] == error
    assert data["message"]
    if field is not None:
        assert [p["field"] for p in data["problems"]] == [field]
    assert await page.dm("alice") == []
    assert await page.world.tickets.of_requester("alice") == []


async def test_the_longest_message_is_accepted(page: Page) -> None:
    await page.say("alice", "y" * MAX_TEXT)
    assert len((await page.dm("alice"))[0]["text"]) == MAX_TEXT


async def test_posts_must_be_json_from_this_site(page: Page) -> None:
    resp = await page.client.post(
        f"{API}/people/alice/messages",
        data="text=hi",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 415
    resp = await page.client.post(f"{API}/people/alice/messages", json={"text": "hi"},
                                  headers={"Origin": "https://evil.example"})  # fmt: skip
    assert resp.status == 403
    assert (await resp.json())["error"] == "forbidden_origin"
    assert await page.dm("alice") == []


async def test_bad_clicks_and_thread_replies_are_rejected(page: Page) -> None:
    await page.post("/people/alice/clicks", {"action": "claim"}, status=400)
    await page.post("/people/alice/clicks", {"action": "claim", "ref": "r" * 101}, status=400)
    # on-call threads: only for on-call people, and only threads that exist
    await page.say("alice", "my webcam hardware is broken")
    (thread,) = await page.threads("dave")
    claim = button(thread["messages"][0], "Claim")
    body = {"action": claim["action"], "ref": claim["ref"], "thread": thread["id"]}
    await page.post("/people/alice/clicks", body, status=403)
    await page.post("/people/dave/oncall/C-NOPE/messages", {"text": "hi"}, status=404)
    await page.post(f"/people/alice/oncall/{thread['id']}/messages", {"text": "hi"}, status=403)
    await page.post(f"/people/dave/oncall/{thread['id']}/messages", {"text": ""}, status=400)
    (after,) = await page.threads("dave")
    assert after == thread


async def test_a_forged_button_changes_nothing(page: Page) -> None:
    await page.say("alice", "my mouse is physically broken")
    (thread,) = await page.threads("dave")
    await page.press("dave", {"action": "claim", "ref": "forged-token"}, thread=thread["id"])
    (after,) = await page.threads("dave")
    assert after["messages"][0] == thread["messages"][0]
    assert after["messages"][-1]["text"] == texts.say("button.unknown")


# --- the outbound side ---------------------------------------------------------------------


async def test_deliver_appends_updates_in_place_and_keeps_ephemerals_private(page: Page) -> None:
    chat = page.chat
    first = Reply(id="M-1", text="Working on it", card=Card(title="Unlock", text="pending"))
    await chat.deliver(
        [
            Send(to=Address.dm("bob"), reply=first),
            Send(to=Address.dm("bob"), reply=Reply(id="M-2", text="second")),
        ]
    )
    done = first.model_copy(update={"card": Card(title="Unlock", text="done")})
    await chat.deliver([Update(to=Address.dm("bob"), reply=done)])
    dm = await page.dm("bob")
    assert [m["id"] for m in dm] == ["M-1", "M-2"]
    assert dm[0]["card"]["text"] == "done"

    root = Send(to=Address.case_thread("oncall", "C-1"), reply=Reply(id="M-3", text="root"))
    here = Address(conversation="channel:oncall", thread="C-1", person="dave")
    await chat.deliver([root, Ephemeral(to=here, reply=Reply(id="M-4", text="just for dave"))])
    assert [m["text"] for m in (await page.threads("dave"))[0]["messages"]] == [
        "root",
        "just for dave",
    ]
    assert [m["text"] for m in (await page.threads("erin"))[0]["messages"]] == ["root"]

    # an address of another platform is not the web chat's to show
    await chat.deliver([Send(to=Address(conversation="D0SLACK", person="bob"),
                             reply=Reply(id="M-5", text="slack only"))])  # fmt: skip
    assert [m["id"] for m in await page.dm("bob")] == ["M-1", "M-2"]


async def test_with_the_store_out_of_reach_a_send_says_try_again_shortly(
    page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(page.world.directory, "person", unreachable)
    answer = await page.say("alice", "I'm locked out", status=503)
    assert answer == {"error": "unavailable", "message": texts.say("inbox.unavailable")}
    monkeypatch.undo()
    assert await page.dm("alice") == []  # nothing was taken, nothing acted on
    assert await page.desk.cases.ids_of("alice") == []
