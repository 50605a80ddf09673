"""ServiceNow's Table API behind the desk's tickets, over the fake instance: both ways of
signing in, paging by Link, Retry-After, an operator's missing role, a lost write read back,
opening under a key, the state mapping with its close code, comments and work notes, and the
answers' documented shapes. (The `Tickets` contract runs in tests/contracts as the
`servicenow` backend.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from servers.servicenow import DESK, FakeServiceNow
from servicenow_instance import START, Sleeps, desk_tickets, instance

from adapters.servicenow.client import RETRIES, ServiceNowRefused, ServiceNowUnavailable
from adapters.servicenow.tickets import ServiceNowTickets
from bot.clock import ManualClock
from bot.ports import NewTicket, NotFoundError, OutcomeUnknown

LOCKED = NewTicket(key="C-7:escalation", case_id="C-7", requester="ana", queue="access",
                   priority="high", summary="Locked out", details="after a reset")  # fmt: skip


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sleeps(clock: ManualClock) -> Sleeps:
    return Sleeps(clock)


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeServiceNow]:
    with instance(clock) as running:
        yield running


@pytest.fixture
def tickets(fake: FakeServiceNow, clock: ManualClock, sleeps: Sleeps) -> ServiceNowTickets:
    return desk_tickets(fake, clock, sleeps)


def incident(fake: FakeServiceNow, number: str) -> dict[str, str]:
    return dict(fake.run(lambda: fake.tables.incident(number)))


# --- signing in -------------------------------------------------------------------------------


async def test_basic_auth_and_oauth_client_credentials_both_reach_the_table_api(
    fake: FakeServiceNow, clock: ManualClock, sleeps: Sleeps
) -> None:
    basic = await desk_tickets(fake, clock, sleeps).open(LOCKED)
    oauth = desk_tickets(fake, clock, sleeps, oauth=True)
    assert await oauth.get(basic.id) == basic
    token_calls = [e for e in fake.exchanges if e.path == "/oauth_token.do"]
    assert [e.status for e in token_calls] == [200]
    form = token_calls[0].body.decode()
    assert "grant_type=client_credentials" in form
    assert "client_id=itdesk-client" in form
    assert incident(fake, basic.id)["sys_created_by"] == DESK


async def test_wrong_credentials_are_an_operator_problem_never_showing_the_secret(
    fake: FakeServiceNow, clock: ManualClock, sleeps: Sleeps
) -> None:
    wrong = desk_tickets(fake, clock, sleeps, servicenow_password="not-it")
    with pytest.raises(ServiceNowRefused) as refused:
        await wrong.get("INC0010001")
    assert refused.value.status == 401
    assert "not-it" not in str(refused.value)
    bad_client = desk_tickets(fake, clock, sleeps, oauth=True, servicenow_client_secret="nope")
    with pytest.raises(ServiceNowUnavailable, match="token endpoint") as unavailable:
        await bad_client.get("INC0010001")
    assert "nope" not in str(unavailable.value)
    assert "nope" not in repr(bad_client)


async def test_a_missing_role_names_the_role(
    fake: FakeServiceNow, tickets: ServiceNowTickets
) -> None:
    ticket = await tickets.open(LOCKED)
    fake.acl["sys_audit"] = "audit_reader"  # the ACL the admin must grant for the history
    with pytest.raises(ServiceNowRefused) as refused:
        await tickets.notes(ticket.id)
    assert (refused.value.status, refused.value.role) == (403, "audit_reader")
    assert "audit_reader" in str(refused.value)


# --- paging and throttling --------------------------------------------------------------------


async def test_lists_follow_the_link_header_over_every_page(
    clock: ManualClock, sleeps: Sleeps
) -> None:
    with instance(clock, page_size=2) as fake:
        tickets = desk_tickets(fake, clock, sleeps)
        opened = [await tickets.open(NewTicket(requester="ben", queue="security", summary=f"#{i}"))
                  for i in range(5)]  # fmt: skip
        assert [t.id for t in await tickets.of_requester("ben")] == [t.id for t in opened]
        pages = [e for e in fake.seen("GET", "incident")
                 if "caller_id=" in e.query.get("sysparm_query", "")]  # fmt: skip
        assert [e.query["sysparm_offset"] for e in pages] == ["0", "2", "4"]
        assert 'rel="next"' not in pages[-1].answer_headers["Link"]
        assert pages[0].answer_headers["X-Total-Count"] == "5"


@pytest.mark.parametrize("status", [429, 503])
async def test_a_throttled_call_waits_retry_after_and_goes_through(
    fake: FakeServiceNow, tickets: ServiceNowTickets, sleeps: Sleeps, status: int
) -> None:
    fake.throttle(2, status)
    ticket = await tickets.open(LOCKED)
    assert sleeps.waits == [2.0, 2.0]
    assert incident(fake, ticket.id)["short_description"] == "Locked out"


async def test_a_call_throttled_past_the_retries_is_unavailable(
    fake: FakeServiceNow, tickets: ServiceNowTickets, sleeps: Sleeps
) -> None:
    fake.throttle(RETRIES + 1)
    with pytest.raises(ServiceNowUnavailable):
        await tickets.get("INC0010001")
    assert len(sleeps.waits) == RETRIES


# --- writes -----------------------------------------------------------------------------------


async def test_a_lost_answer_is_unknown_and_opening_again_finds_the_first(
    fake: FakeServiceNow, tickets: ServiceNowTickets
) -> None:
    fake.lose_answers(1)
    with pytest.raises(OutcomeUnknown):
        await tickets.open(LOCKED)
    again = await tickets.open(LOCKED)  # the desk reads back under the key
    assert [e.status for e in fake.seen("POST", "incident")] == [201]
    assert (again.key, again.case_id, again.queue) == ("C-7:escalation", "C-7", "access")
    saved = incident(fake, again.id)
    assert (saved["correlation_id"], saved["correlation_display"]) == (
        "C-7:escalation", "itdesk queue=access case=C-7")  # fmt: skip


async def test_an_incident_carries_the_mapped_caller_group_category_and_priority(
    fake: FakeServiceNow, tickets: ServiceNowTickets
) -> None:
    ticket = await tickets.open(LOCKED)
    saved = incident(fake, ticket.id)
    group = fake.run(lambda: fake.tables.rows["sys_user_group"][saved["assignment_group"]])
    caller = fake.run(lambda: fake.tables.rows["sys_user"][saved["caller_id"]])
    assert (caller["user_name"], group["name"], saved["category"]) == (
        "ana", "Access Management", "inquiry")  # fmt: skip
    assert (saved["urgency"], saved["impact"], saved["priority"]) == ("1", "2", "2")
    assert ticket.id.startswith("INC")
    assert ticket.priority == "high"


async def test_a_long_key_is_hashed_into_the_correlation_id_and_still_finds_the_first(
    fake: FakeServiceNow, tickets: ServiceNowTickets
) -> None:
    keyed = LOCKED.model_copy(update={"key": "k" * 200})
    first = await tickets.open(keyed)
    assert (await tickets.open(keyed)).id == first.id
    assert len(incident(fake, first.id)["correlation_id"]) <= 100


async def test_a_requester_found_by_the_directorys_email(
    fake: FakeServiceNow, clock: ManualClock, sleeps: Sleeps
) -> None:
    class Directory:
        async def person(self, username: str) -> object:
            return SimpleNamespace(email="pat@example.test") if username == "p.portal" else None

    tickets = desk_tickets(fake, clock, sleeps, directory=Directory())
    ticket = await tickets.open(NewTicket(requester="p.portal", queue="other", summary="VPN"))
    assert ticket.requester == "pat"  # as ServiceNow names the caller
    with pytest.raises(NotFoundError):
        await tickets.open(NewTicket(requester="nobody", queue="other", summary="VPN"))


async def test_states_map_and_resolving_sets_the_close_code_and_notes(
    fake: FakeServiceNow, tickets: ServiceNowTickets
) -> None:
    ticket = await tickets.open(LOCKED)
    assert incident(fake, ticket.id)["state"] == "1"
    await tickets.update(ticket.id, status="in_progress", assignee="tom")
    assert incident(fake, ticket.id)["state"] == "2"
    resolved = await tickets.update(ticket.id, status="resolved", comment="Unlocked for you.")
    saved = incident(fake, ticket.id)
    assert (saved["state"], saved["close_code"], saved["close_notes"]) == (
        "6", "Solution provided", "Unlocked for you.")  # fmt: skip
    assert (resolved.status, resolved.assignee) == ("resolved", "tom")
    assert (await tickets.update(ticket.id, status="closed")).status == "closed"
    assert incident(fake, ticket.id)["state"] == "7"


async def test_a_technicians_work_reads_back_with_its_author(
    fake: FakeServiceNow, tickets: ServiceNowTickets
) -> None:
    ticket = await tickets.open(LOCKED)
    await tickets.update(ticket.id, note="checked the logs", comment="Looking now.")
    fake.comment(ticket.id, "tom", "Try again please.")
    fake.resolve(ticket.id, "tom")
    rows = fake.run(lambda: list(fake.tables.rows["sys_journal_field"].values()))
    journal = [(j["element"], j["value"], j["sys_created_by"]) for j in rows]
    assert sorted(journal) == [("comments", "Looking now.", DESK),
                               ("comments", "Try again please.", "tom"),
                               ("work_notes", "checked the logs", DESK)]  # fmt: skip
    notes = await tickets.notes(ticket.id)
    assert [(n.text, n.public, n.author) for n in notes] == [
        ("checked the logs", False, None), ("Looking now.", True, None),
        ("Try again please.", True, "tom"), ("", False, "tom")]  # fmt: skip
    assert notes[-1].changes == {"status": "resolved"}
    assert (await tickets.get(ticket.id)).status == "resolved"  # type: ignore[union-attr]


async def test_an_update_that_changes_nothing_writes_nothing(
    fake: FakeServiceNow, tickets: ServiceNowTickets
) -> None:
    ticket = await tickets.open(LOCKED)
    assert await tickets.update(ticket.id, status="open", priority="high") == ticket
    assert fake.seen("PATCH", "incident") == []


# --- the documented shapes --------------------------------------------------------------------


async def test_every_exchange_has_the_table_apis_documented_shape(
    fake: FakeServiceNow, tickets: ServiceNowTickets
) -> None:
    ticket = await tickets.open(LOCKED)
    await tickets.update(ticket.id, status="in_progress", comment="On it.")
    await tickets.notes(ticket.id)
    assert await tickets.get("INC9999999") is None
    documented = {"sysparm_query", "sysparm_fields", "sysparm_limit", "sysparm_offset",
                  "sysparm_display_value", "sysparm_input_display_value"}  # fmt: skip
    for e in fake.exchanges:
        if not e.path.startswith("/api/now/table/"):
            continue
        assert set(e.query) <= documented, e.query
        listed = e.method == "GET" and e.path.count("/") == 4  # /api/now/table/<table>
        assert e.status == {"GET": 200, "POST": 201, "PATCH": 200}[e.method]
        assert isinstance(json.loads(e.answer)["result"], list if listed else dict)
        if e.method != "GET":
            assert isinstance(json.loads(e.body), dict)
    fake.throttle(RETRIES + 1)
    with pytest.raises(ServiceNowUnavailable):
        await tickets.get(ticket.id)
    refusal = json.loads(fake.exchanges[-1].answer)
    assert refusal["status"] == "failure"
    assert set(refusal["error"]) == {"message", "detail"}
    assert fake.exchanges[-1].answer_headers["Retry-After"] == "2"


@pytest.mark.parametrize(
    ("detail", "role"),
    [
        ("User does not have the required role(s) to access this resource", None),
        (
            "Insufficient rights: roles: snc_platform_rest_api_access",
            "snc_platform_rest_api_access",
        ),
        ("The role is missing", None),
        ("ACL Exception: GET on sys_audit requires role audit_reader", "audit_reader"),
    ],
)
def test_the_missing_role_is_named_only_where_servicenow_names_one(
    detail: str, role: str | None
) -> None:
    from adapters.servicenow.client import _refusal

    body = {"error": {"message": "User Not Authorized", "detail": detail}, "status": "failure"}
    refused = _refusal(403, body, "GET /api/now/table/incident")
    assert isinstance(refused, ServiceNowRefused)
    assert refused.role == role
