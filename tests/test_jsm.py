"""The JSM adapter over the fake JSM site: the desk's account refused, paging, Retry-After,
a lost answer read back, idempotent opens by the entity property, statuses by transition,
public and internal comments, the feed's overlap and the desk's echo, and signed webhooks
with the feed's ids. (The `Tickets` contract runs in tests/contracts as the `jsm` backend.)"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr
from servers.jsm import API_TOKEN, DESK_EMAIL, WEBHOOK_SECRET, FakeJsm

from adapters.jsm.changes import DeskAccount
from adapters.jsm.client import RATE_LIMIT_RETRIES, JsmRefused, JsmUnavailable
from adapters.jsm.feed import JsmFeed
from adapters.jsm.tickets import JsmTickets
from adapters.jsm.webhooks import JsmWebhooks
from bot.clock import ManualClock
from bot.org import load_org
from bot.ports import NewTicket, OutcomeUnknown, TicketChange, WebhookRefused
from bot.settings_tickets import TicketSettings
from bot.store import Store
from bot.world import SandboxWorld

ORG = load_org(Path(__file__).parent / "contracts" / "org.yaml")
TYPES = {"other": "11", "access": "12", "security": "13"}
LOST = NewTicket(requester="ana", queue="security", priority="urgent", summary="Lost laptop",
                 details="on the train", case_id="C-1", key="C-1:escalation")  # fmt: skip


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def clock() -> ManualClock:
    assert ORG.now is not None
    return ManualClock(ORG.now)


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeJsm]:
    jsm = FakeJsm(clock.now).start()
    for person in ORG.people():
        jsm.add_user(person.email, person.name)
    yield jsm
    jsm.stop()


@pytest.fixture
async def world(store: Store, clock: ManualClock) -> SandboxWorld:
    return await SandboxWorld.create(store.child("world"), ORG, clock)


def settings(fake: FakeJsm, token: str = API_TOKEN) -> TicketSettings:
    return TicketSettings.model_validate({
        "tickets": "jsm", "jsm_url": fake.url, "jsm_email": DESK_EMAIL, "jsm_api_token": token,
        "jsm_service_desk_id": fake.state.desk_id, "jsm_request_types": TYPES,
        "jsm_webhook_secret": WEBHOOK_SECRET,
    })  # fmt: skip


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def jsm(fake: FakeJsm, world: SandboxWorld, clock: ManualClock, sleeps: Sleeps) -> JsmTickets:
    return JsmTickets.from_settings(settings(fake), directory=world.directory, clock=clock,
                                    sleep=sleeps)  # fmt: skip


def email(username: str) -> str:
    return next(p.email for p in ORG.people() if p.username == username)


# --- the client -----------------------------------------------------------------------------


async def test_a_wrong_api_token_is_the_operators_to_fix_and_never_shown(
    fake: FakeJsm, world: SandboxWorld
) -> None:
    wrong = JsmTickets.from_settings(settings(fake, "not-the-token"), directory=world.directory)
    with pytest.raises(JsmRefused) as refused:
        await wrong.open(LOST)
    assert refused.value.status == 401
    assert "authenticated" in str(refused.value)
    assert "not-the-token" not in str(refused.value) + repr(wrong.client)


async def test_a_missing_permission_is_refused_plainly(fake: FakeJsm, jsm: JsmTickets) -> None:
    fake.forbid("/rest/servicedeskapi/request")
    with pytest.raises(JsmRefused) as refused:
        await jsm.open(LOST)
    assert refused.value.status == 403
    assert "permission" in str(refused.value)


async def test_servicedesk_calls_opt_in_to_its_experimental_api(
    fake: FakeJsm, jsm: JsmTickets
) -> None:
    await jsm.open(LOST)
    desk = fake.seen("POST", "/rest/servicedeskapi/request")
    platform = fake.seen("PUT", "/rest/api/3/issue/")
    assert desk
    assert all(e.headers.get("X-ExperimentalApi") == "opt-in" for e in desk)
    assert platform
    assert all("X-ExperimentalApi" not in e.headers for e in platform)


async def test_a_throttled_call_waits_its_retry_after_and_goes_through(
    fake: FakeJsm, jsm: JsmTickets, sleeps: Sleeps
) -> None:
    fake.throttle(2)
    ticket = await jsm.open(LOST)
    assert sleeps.waits == [2.0, 2.0]
    assert await jsm.get(ticket.id) == ticket
    fake.throttle(RATE_LIMIT_RETRIES + 1)
    with pytest.raises(JsmUnavailable):
        await jsm.get(ticket.id)


async def test_lists_are_read_over_every_page(fake: FakeJsm, jsm: JsmTickets) -> None:
    opened = [await jsm.open(NewTicket(requester="ben", queue="access", summary=f"#{n}"))
              for n in range(5)]  # fmt: skip
    assert [t.id for t in await jsm.in_queue("access")] == [t.id for t in opened]
    starts = [e.query["start"] for e in fake.seen("GET", "/rest/servicedeskapi/request")
              if e.path == "/rest/servicedeskapi/request"]  # fmt: skip
    assert starts == ["0", "2", "4"]
    assert [t.id for t in await jsm.of_requester("ben")] == [t.id for t in opened]
    tokens = [e.query.get("nextPageToken") for e in fake.seen("GET", "/rest/api/3/search/jql")]
    assert tokens[-3:] == [None, "2", "4"]


# --- tickets --------------------------------------------------------------------------------


async def test_a_ticket_is_a_request_raised_for_the_requester(
    fake: FakeJsm, jsm: JsmTickets
) -> None:
    ticket = await jsm.open(LOST)
    issue = fake.state.issues[ticket.id]
    assert ticket.id.startswith("ITS-")
    assert issue.reporter == fake.state.account(email("ana"))
    assert (issue.request_type, issue.priority) == ("13", "Highest")
    assert issue.properties["itdesk"] == {"key": LOST.key, "case_id": "C-1", "queue": "security"}


async def test_opening_again_under_a_key_finds_it_by_the_entity_property(
    fake: FakeJsm, jsm: JsmTickets
) -> None:
    first = await jsm.open(LOST)
    assert await jsm.open(LOST) == first
    assert len(fake.seen("POST", "/rest/servicedeskapi/request")) == 1
    searched = [e.query["jql"] for e in fake.seen("GET", "/rest/api/3/search/jql")]
    assert searched[-1] == ('project = ITS AND issue.property[itdesk].key = "C-1:escalation" '
                            "ORDER BY created ASC")  # fmt: skip


async def test_a_lost_answer_is_unknown_and_reads_back(fake: FakeJsm, jsm: JsmTickets) -> None:
    # the key's property is written and its answers lost (aiohttp sends an idempotent PUT
    # once more on a dropped connection: both are lost)
    fake.lose_answers(2, "/rest/api/3/issue/")
    with pytest.raises(OutcomeUnknown):
        await jsm.open(LOST)
    again = await jsm.open(LOST)
    assert len(fake.state.issues) == 1
    assert again.key == LOST.key
    fake.lose_answers(1, "/rest/servicedeskapi/request/")
    with pytest.raises(OutcomeUnknown):
        await jsm.update(again.id, comment="We're on it.")
    assert [(n.text, n.public) for n in await jsm.notes(again.id)] == [("We're on it.", True)]


async def test_a_keyed_create_whose_answer_is_lost_finds_the_request_it_made(
    fake: FakeJsm, jsm: JsmTickets
) -> None:
    fake.lose_answers(1, "/rest/servicedeskapi/request")
    opened = await jsm.open(LOST)
    assert len(fake.state.issues) == 1
    assert fake.state.issues[opened.id].properties["itdesk"]["key"] == LOST.key
    assert await jsm.open(LOST) == opened
    unkeyed = LOST.model_copy(update={"key": None})
    fake.lose_answers(1, "/rest/servicedeskapi/request")
    with pytest.raises(OutcomeUnknown):
        await jsm.open(unkeyed)  # nothing to know it by: the desk reads back
    assert len(fake.state.issues) == 2


async def test_a_status_is_set_by_the_transition_to_its_category(
    fake: FakeJsm, jsm: JsmTickets
) -> None:
    ticket = await jsm.open(LOST)
    assert ticket.status == "open"  # "Waiting for support", a new-category status
    for status, transition in (("in_progress", "93"), ("resolved", "95"), ("closed", "96")):
        assert (await jsm.update(ticket.id, status=status)).status == status
        posted = json.loads(fake.seen("POST", "/rest/api/3/issue/")[-1].body)
        assert posted == {"transition": {"id": transition}}
    fake.transition(ticket.id, "10002", by=email("ben"))  # Waiting for customer
    assert (await jsm.get(ticket.id)).status == "in_progress"  # type: ignore[union-attr]


async def test_a_note_is_internal_a_comment_public_and_others_have_authors(
    fake: FakeJsm, jsm: JsmTickets
) -> None:
    ticket = await jsm.open(LOST)
    await jsm.update(ticket.id, assignee="ben", note="asset register checked", comment="On it")
    fake.comment(ticket.id, "Found it", public=True, by=email("ben"))
    kept = [(c["body"], c["public"]) for c in fake.state.issues[ticket.id].comments]
    assert kept == [("asset register checked", False), ("On it", True), ("Found it", True)]
    notes = await jsm.notes(ticket.id)
    assert [(n.text, n.public, n.author) for n in notes] == [
        ("asset register checked", False, None), ("On it", True, None),
        ("Found it", True, email("ben")),
    ]  # fmt: skip
    assert notes[0].changes == {"assignee": "ben"}


# --- the feed and the webhooks --------------------------------------------------------------


async def test_the_feed_starts_now_and_reads_the_overlap_once(
    fake: FakeJsm, jsm: JsmTickets, clock: ManualClock
) -> None:
    before = await jsm.open(LOST)
    fake.comment(before.id, "old news", public=True, by=email("ben"))
    clock.advance(timedelta(seconds=1))
    feed = JsmFeed(jsm, clock)
    first = await feed.changes_since(None)
    assert first.changes == ()
    note = fake.comment(before.id, "internal look", public=False, by=email("ben"))
    status = fake.transition(before.id, "3", by=email("ben"))
    await jsm.update(before.id, note="the desk's own")
    raised = fake.raise_request(email("mo"), "Printer")
    page = await feed.changes_since(first.cursor)
    got = [(c.kind, c.text, c.by_desk) for c in page.changes]
    assert got[:3] == [("note", "internal look", False), ("status", "", False),
                       ("note", "the desk's own", True)]  # fmt: skip
    assert [c.id for c in page.changes][:2] == [note, status]
    opened = page.changes[3]
    assert (opened.kind, opened.ticket_id) == ("opened", raised)
    assert opened.ticket is not None
    assert (opened.ticket.summary, opened.ticket.requester, opened.by) == ("Printer", "mo",
                                                                          email("mo"))  # fmt: skip
    assert page.changes[1].status == "in_progress"
    assert page.changes[1].by == email("ben")
    again = await feed.changes_since(page.cursor)  # the same minute is read again
    assert again.changes == ()
    later = fake.comment(before.id, "back at the desk", public=True, by=email("ben"))
    last = await feed.changes_since(again.cursor)
    assert [(c.id, c.kind) for c in last.changes] == [(later, "comment")]


def webhooks() -> JsmWebhooks:
    return JsmWebhooks(SecretStr(WEBHOOK_SECRET), DeskAccount(email=DESK_EMAIL), TYPES)


async def test_an_unsigned_or_wrongly_signed_webhook_is_refused_before_its_body_is_read(
    fake: FakeJsm, jsm: JsmTickets
) -> None:
    ticket = await jsm.open(LOST)
    fake.comment(ticket.id, "hello", public=True, by=email("ben"))
    headers, body = fake.webhooks[-1]
    hooks = webhooks()
    with pytest.raises(WebhookRefused, match="signed"):
        hooks.parse({}, body)
    with pytest.raises(WebhookRefused, match="signed"):
        hooks.parse(headers, body + b" ")
    forged = "sha256=" + hmac.new(b"another secret", body, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookRefused, match="signed"):
        hooks.parse({"X-Hub-Signature": forged}, body)
    with pytest.raises(WebhookRefused, match="signed"):
        hooks.parse({"X-Hub-Signature": "sha256=00"}, b"not json")
    signed = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), b"[1]", hashlib.sha256).hexdigest()
    with pytest.raises(WebhookRefused, match="not a Jira webhook"):
        hooks.parse({"x-hub-signature": signed}, b"[1]")
    assert hooks.parse(headers, body)[0].text == "hello"
    assert WEBHOOK_SECRET not in repr(hooks)


async def test_webhooks_arrive_over_http_and_are_read(fake: FakeJsm, jsm: JsmTickets) -> None:
    hooks, received = webhooks(), []

    async def endpoint(request: web.Request) -> web.Response:
        received.extend(hooks.parse(request.headers, await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks/jira", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        host, port = runner.addresses[0][:2]
        fake.webhook_url = f"http://{host}:{port}/hooks/jira"
        ticket = await jsm.open(LOST)
        comment = fake.comment(ticket.id, "hello", public=False, by=email("ben"))
        await fake.deliver()
    finally:
        await runner.cleanup()
    assert [(c.id, c.kind, c.by) for c in received] == [(comment, "note", email("ben"))]


async def test_webhooks_carry_the_changes_the_feed_reads_with_the_same_ids(
    fake: FakeJsm, jsm: JsmTickets, clock: ManualClock
) -> None:
    ticket = await jsm.open(LOST)
    feed = JsmFeed(jsm, clock)
    cursor = (await feed.changes_since(None)).cursor
    fake.webhooks.clear()
    fake.comment(ticket.id, "internal look", public=False, by=email("ben"))
    fake.comment(ticket.id, "We have it", public=True, by=email("ben"))
    fake.transition(ticket.id, "5", by=email("ben"))
    fake.assign(ticket.id, email("ben"), by=email("ben"))
    fake.raise_request(email("ben"), "Printer")
    hooks = webhooks()
    pushed: list[TicketChange] = [c for h, b in fake.webhooks for c in hooks.parse(h, b)]
    polled = (await feed.changes_since(cursor)).changes

    def seen(changes: Iterable[TicketChange]) -> list[tuple[str, str, object, object, str]]:
        return [(c.id, c.kind, c.status, c.assignee, c.text) for c in changes]

    assert seen(pushed) == seen(polled)
    assert [c.kind for c in pushed] == ["note", "comment", "status", "assignee", "opened"]
    assert pushed[2].status == "resolved"
    assert pushed[3].assignee == email("ben")
    assert pushed[4].ticket is not None
    assert pushed[4].ticket.queue == "other"
