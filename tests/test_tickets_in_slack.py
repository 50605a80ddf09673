"""The IT team's own ticket system behind the desk, end to end in Slack: `itdesk serve` over
the Initech sandbox org with ITDESK_TICKETS=servicenow (the fake instance, its business
rules posting signed changes to the desk) or =jsm (the fake site, its signed Jira
webhooks), the fake Slack workspace in front. An escalation becomes an incident or a
request; the technician's comment there reaches the person in Slack, once; the person's
reply lands on the ticket as a comment; resolving it there resolves the case and asks
whether that fixed it; a forged webhook call is refused and changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from servers.jsm import API_TOKEN, DESK_EMAIL, WEBHOOK_SECRET, FakeJsm
from servers.servicenow import FakeServiceNow
from servers.smtp import smtp_server
from slack_desk import SlackDesk, serving, workspace
from waiting import until

from bot import texts
from bot.cases import Case, CaseStatus
from bot.org import Org, load_org

HERE = Path(__file__).parent
ORG_FILE = HERE / "desk_scenarios" / "orgs" / "initech.yaml"
ORG: Org = load_org(ORG_FILE)
SECRET = "servicenow-shared-secret"
GROUPS = {"hardware": "Hardware", "accounts": "Service Desk", "other": "Service Desk"}
FLICKER = "my monitor flickers and then goes black"


def now() -> datetime:
    return datetime.now(UTC)


def people() -> list[tuple[str, str, str]]:
    return [(p.username, p.email, p.name) for p in ORG.people()]


@pytest.fixture
def servicenow() -> Iterator[FakeServiceNow]:
    fake = FakeServiceNow(now).start()
    try:
        fake.seed(people(), GROUPS)
        fake.add_user("tom", "tom@itops.test", "Tom Tech")
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def jsm() -> Iterator[FakeJsm]:
    fake = FakeJsm(now).start()
    try:
        for person in ORG.people():
            fake.add_user(person.email, person.name)
        fake.add_user("tom@itops.test", "Tom Tech")
        yield fake
    finally:
        fake.stop()


async def desk_with(redis_url: str, tmp_path: Path, **settings: Any) -> AsyncIterator[SlackDesk]:
    with smtp_server() as mail:
        async with workspace(people()) as slack, serving(
            slack, mail, redis_url, tmp_path, org_file=ORG_FILE, ticket_poll_seconds=1,
            **settings,
        ) as served:  # fmt: skip
            yield served


@pytest.fixture
async def on_servicenow(
    servicenow: FakeServiceNow, redis_url: str, tmp_path: Path
) -> AsyncIterator[SlackDesk]:
    settings = {**servicenow.settings(groups=GROUPS), "servicenow_webhook_secret": SECRET,
                "namespace": "sn-slack"}  # fmt: skip
    async for desk in desk_with(redis_url, tmp_path, **settings):
        servicenow.send_changes_to(str(desk.http.make_url("/webhooks/servicenow")), SECRET)
        yield desk


@pytest.fixture
async def on_jsm(jsm: FakeJsm, redis_url: str, tmp_path: Path) -> AsyncIterator[SlackDesk]:
    settings = {"tickets": "jsm", "jsm_url": jsm.url, "jsm_email": DESK_EMAIL,
                "jsm_api_token": API_TOKEN, "jsm_service_desk_id": jsm.state.desk_id,
                "jsm_request_types": {"other": "11", "hardware": "15"},
                "jsm_webhook_secret": WEBHOOK_SECRET, "namespace": "jsm-slack"}  # fmt: skip
    async for desk in desk_with(redis_url, tmp_path, **settings):
        jsm.webhook_url = str(desk.http.make_url("/webhooks/jsm"))
        yield desk


async def escalated_case(desk: SlackDesk) -> Case:
    await desk.says("joanna", FLICKER)
    cases = desk.runtime.desk.cases

    async def handed_over() -> bool:
        found = await cases.latest_open("joanna")
        return found is not None and found.status == CaseStatus.ESCALATED

    await until(handed_over)
    case = await cases.latest_open("joanna")
    assert case is not None
    assert case.ticket_id is not None
    return case


async def resolved(desk: SlackDesk, case: Case) -> None:
    async def done() -> bool:
        now_case = await desk.runtime.desk.cases.get(case.id)
        return now_case is not None and now_case.status == CaseStatus.RESOLVED

    await until(done)


def journal(fake: FakeServiceNow, number: str) -> list[tuple[str, str]]:
    def read() -> list[tuple[str, str]]:
        sys_id = fake.tables.incident(number)["sys_id"]
        rows = fake.tables.rows["sys_journal_field"].values()
        return [(r["element"], r["value"]) for r in rows if r["element_id"] == sys_id]

    return list(fake.run(read))


async def test_servicenow_an_escalation_is_an_incident_and_the_loop_runs_both_ways(
    servicenow: FakeServiceNow, on_servicenow: SlackDesk
) -> None:
    desk = on_servicenow
    case = await escalated_case(desk)
    number = case.ticket_id
    assert number is not None
    incident = servicenow.run(lambda: dict(servicenow.tables.incident(number)))
    assert incident["short_description"]

    servicenow.comment(number, "tom", "Could you try another cable?")
    relayed = f"on your ticket {number}: Could you try another cable?"
    await desk.told("joanna", relayed)
    servicenow.comment(number, "tom", "Checked the asset register", internal=True)

    await desk.says("joanna", "swapped the cable, still flickers")

    async def commented() -> bool:
        return any("swapped the cable" in value for element, value in journal(servicenow, number)
                   if element == "comments")  # fmt: skip

    await until(commented)
    servicenow.resolve(number, "tom", "Replaced the panel.")
    await resolved(desk, case)
    await desk.told("joanna", texts.say("result.helped"))  # did that solve it?
    words = [m.text for m in desk.dm("joanna")]
    assert sum(relayed in w for w in words) == 1  # by webhook and by poll: once
    assert not any("asset register" in w for w in words)  # internal stays internal


async def test_servicenow_a_forged_webhook_is_refused(on_servicenow: SlackDesk) -> None:
    desk = on_servicenow
    case = await escalated_case(desk)
    await desk.told("joanna", case.ticket_id or "?")  # the escalation's own DM has come
    before = len(desk.dm("joanna"))
    fields = {"table": "sys_journal_field", "element": "comments", "value": "pay now",
              "element_id": "x", "ticket": case.ticket_id}  # fmt: skip
    body = json.dumps(fields).encode()
    forged = await desk.http.post("/webhooks/servicenow", data=body,
                                  headers={"X-Itdesk-Signature": "sha256=deadbeef"})  # fmt: skip
    unsigned = await desk.http.post("/webhooks/servicenow", data=body)

    assert (forged.status, unsigned.status) == (401, 401)
    assert len(desk.dm("joanna")) == before


async def test_jsm_an_escalation_is_a_request_and_the_loop_runs_both_ways(
    jsm: FakeJsm, on_jsm: SlackDesk
) -> None:
    desk = on_jsm
    case = await escalated_case(desk)
    key = case.ticket_id
    assert key is not None

    jsm.comment(key, "Could you try another cable?", public=True, by="tom@itops.test")
    jsm.comment(key, "Checked the asset register", public=False, by="tom@itops.test")
    await jsm.deliver()
    relayed = f"on your ticket {key}: Could you try another cable?"
    await desk.told("joanna", relayed)

    await desk.says("joanna", "swapped the cable, still flickers")

    async def commented() -> bool:
        with jsm.lock:
            issue = jsm.state.issues[key]
            return any("swapped the cable" in str(c) for c in issue.comments)

    await until(commented)
    jsm.transition(key, "5", by="tom@itops.test")
    await jsm.deliver()
    await resolved(desk, case)
    words = [m.text for m in desk.dm("joanna")]
    assert sum(relayed in w for w in words) == 1
    assert not any("asset register" in w for w in words)

    forged = await desk.http.post("/webhooks/jsm", data=b"{}",
                                  headers={"X-Hub-Signature": "sha256=" + "0" * 64})  # fmt: skip
    assert forged.status == 401
