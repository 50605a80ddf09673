"""Entra ID behind the desk, end to end in Slack, with Duo Push and SMS codes as the sign-in
checks: `itdesk serve` with ITDESK_DIRECTORY=entra and ITDESK_CHECKS=duo,sms over the fake
Graph, the fake Duo Auth API and the fake Twilio Verify service (real HTTP each), a real SMTP
server and the fake Slack workspace. Ana, locked out, approves a Duo push and is told
honestly that Entra's lock lifts itself, with the reset offered; three denied pushes go to a
human with security told; Ben, with no Duo device, gets an SMS code, types it, and gets the
self-service reset link by e-mail."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers.duo import IKEY, SKEY, DuoDevice, DuoServer
from servers.graph import FakeGraph, running_graph
from servers.graph_tenant import object_id, seed
from servers.smtp import smtp_server
from servers.twilio import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, TwilioServer
from slack_desk import SlackDesk, serving, workspace
from waiting import until

from bot import texts
from bot.directory_files import RoleMap
from bot.org import Org, parse_org

ORG: Org = parse_org(
    {
        "name": "Entra Co", "domain": "entraco.test",
        "users": {
            "ana": {"name": "Ana Silva", "email": "ana@entraco.test", "factors": ["push"],
                    "phone": "+44 7700 900111", "recovery_email": "ana.home@example.net"},
            "ben": {"name": "Ben Okoro", "email": "ben@entraco.test", "factors": ["sms"],
                    "phone": "+44 7700 900222", "recovery_email": "ben.home@example.net"},
            "sam": {"name": "Sam Okafor", "email": "sam@entraco.test", "factors": ["push"],
                    "roles": ["security"]},
        },
    },
    "the Entra test org",
)  # fmt: skip
ROLES = RoleMap(roles={"security": ["security-team"]})
CODE = re.compile(r"\b(\d{6})\b")
SSPR = "https://passwordreset.microsoftonline.com/"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    seeded = seed(ORG, ROLES)
    with running_graph(seeded.tenant) as fake:
        yield fake


@pytest.fixture
def duo() -> Iterator[DuoServer]:
    server = DuoServer(lambda: datetime.now(UTC)).start()
    phone = DuoDevice("DPANA0000000000000000", "+44 7700 900111", "iPhone", ("auto", "push"))
    server.add_user("ana", "auth", phone)
    server.add_user("sam", "auth", DuoDevice("DPSAM0000000000000000", "+44 7700 900333",
                                             "iPhone", ("auto", "push")))  # fmt: skip
    server.add_user("ben", "enroll")  # no Duo device: the next provider stands in
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    server = TwilioServer(lambda: datetime.now(UTC)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def desk(
    graph: FakeGraph, duo: DuoServer, twilio: TwilioServer, redis_url: str, tmp_path: Path
) -> AsyncIterator[SlackDesk]:
    roles = tmp_path / "roles.yaml"
    roles.write_text(yaml.safe_dump({"roles": {"security": ["security-team"]}}))
    settings: dict[str, Any] = {
        **graph.settings(), "directory": "entra", "roles_file": roles,
        "checks": "duo,sms", "duo_api_url": duo.url, "duo_integration_key": IKEY,
        "duo_secret_key": SKEY, "twilio_verify_url": twilio.url,
        "twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN,
        "twilio_verify_service_sid": SERVICE_SID, "entra_sspr_url": SSPR,
        "lockout_poll_seconds": 0, "namespace": "entra-slack",
    }  # fmt: skip
    people = [(u, p.email, p.name) for u, p in ORG.users.items()]
    with smtp_server() as mail:
        async with workspace(people) as slack, serving(slack, mail, redis_url, tmp_path,
                                                       **settings) as served:  # fmt: skip
            yield served


def locked_out(graph: FakeGraph, username: str) -> None:
    """Entra's smart lockout: a sign-in refused with 50053 just now."""
    graph.tenant.add_sign_in(object_id("user", username), datetime.now(UTC), 50053)


async def pending_push(duo: DuoServer, username: str, answered: int = 0) -> str:
    async def pushed() -> bool:
        pushes = duo.pushes(username)
        return len(pushes) > answered and pushes[-1].result == "waiting"

    await until(pushed)
    return duo.pushes(username)[-1].txid


async def test_a_duo_push_approved_then_the_honest_answer_that_the_lock_lifts_itself(
    graph: FakeGraph, duo: DuoServer, desk: SlackDesk
) -> None:
    locked_out(graph, "ana")
    await desk.says("ana", "I'm locked out of my account")
    txid = await pending_push(duo, "ana")
    duo.settle(txid, "allow", "allow")  # on the phone; the desk watches the push at Duo

    told = await desk.told("ana", "clears by itself")
    assert "reset my password" in told.text
    (case_id,) = await desk.runtime.desk.cases.ids_of("ana")
    case = await desk.runtime.desk.cases.get(case_id)
    assert case is not None
    assert case.ticket_id is None  # nothing for a technician to do


async def test_three_denied_duo_pushes_go_to_a_human_and_security_is_told(
    graph: FakeGraph, duo: DuoServer, desk: SlackDesk
) -> None:
    locked_out(graph, "ana")
    await desk.says("ana", "I'm locked out of my account")
    for answered in range(3):
        duo.settle(await pending_push(duo, "ana", answered), "deny", "deny")

    await desk.told("ana", texts.say("step_up.locked_out"))
    await desk.told("sam", texts.say("step_up.locked_out_notice"))


async def test_no_duo_device_means_an_sms_code_then_the_reset_link_by_email(
    twilio: TwilioServer, desk: SlackDesk
) -> None:
    await desk.says("ben", "I forgot my password, please reset it")

    async def texted() -> bool:
        return bool(twilio.texts_to("+447700900222"))

    await until(texted)
    code = CODE.search(twilio.texts_to("+447700900222")[-1])
    assert code is not None
    await desk.told("ben", "code")
    await desk.says("ben", code[1])

    mail = await desk.mail_to("ben.home@example.net", 1)
    assert SSPR in mail
    assert all(code[1] not in str(call.args) for call in desk.slack.calls)
