"""Okta behind the desk, end to end in Slack: `itdesk serve` with ITDESK_DIRECTORY=okta and
ITDESK_CHECKS=okta_verify over the fake Okta org (`servers.okta`, real HTTP), a real SMTP
server, and the fake Slack workspace. A locked-out person approves the Okta Verify push on
the fake phone, picking the number the desk showed, and is unlocked; three denied pushes go
to a human with security told; a lockout in Okta's system log gets a DM first, answered
both ways; and with ITDESK_DIRECTORY=okta,ad an AD-sourced person is unlocked in AD."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers import ad_tenant
from servers.okta import FakeOkta, running_okta
from servers.samba import SambaDC
from servers.smtp import smtp_server
from slack_desk import SlackDesk, serving, workspace
from waiting import until

from bot import texts
from bot.clock import SystemClock
from bot.directory_files import RoleMap
from bot.org import Org, parse_org
from bot.state.outreach import OutreachRecords

ORG: Org = parse_org(
    {
        "name": "Okta Co", "domain": "oktaco.test",
        "users": {
            "ana": {"name": "Ana Silva", "email": "ana@oktaco.test", "manager": "mo",
                    "factors": ["push", "email"], "groups": ["staff"]},
            "mo": {"name": "Mo Tanaka", "email": "mo@oktaco.test", "factors": ["push"],
                   "groups": ["staff"]},
            "sam": {"name": "Sam Okafor", "email": "sam@oktaco.test", "factors": ["push"],
                    "roles": ["security"]},
            "pat": {"name": "Pat Adler", "email": "pat@oktaco.test", "manager": "mo",
                    "factors": ["push"], "groups": ["staff"]},
        },
        "groups": {"staff": {"name": "Staff", "owner": "mo", "approval": "none"}},
    },
    "the Okta test org",
)  # fmt: skip
ROLES = RoleMap(roles={"security": ["security-team"]})
FROM_AD = frozenset({"pat"})
TAP = re.compile(r"Tap (\d+)")


@pytest.fixture
def okta() -> Iterator[FakeOkta]:
    with running_okta(SystemClock()) as fake:
        fake.seed(ORG, ROLES, ad_sourced=FROM_AD)
        yield fake


def files(tmp_path: Path) -> dict[str, Path]:
    roles, catalogue = tmp_path / "roles.yaml", tmp_path / "catalogue.yaml"
    roles.write_text(yaml.safe_dump({"roles": {"security": ["security-team"]}}))
    groups = {g: v.model_dump(exclude_defaults=True) for g, v in ORG.groups.items()}
    catalogue.write_text(yaml.safe_dump({"groups": groups}))
    return {"roles_file": roles, "catalogue_file": catalogue}


@pytest.fixture
async def desk(okta: FakeOkta, redis_url: str, tmp_path: Path) -> AsyncIterator[SlackDesk]:
    settings: dict[str, Any] = {
        "directory": "okta", "okta_url": okta.url, "okta_token": okta.api_token,
        "checks": "okta_verify", "lockout_poll_seconds": 1, "namespace": "okta-slack",
        **files(tmp_path),
    }  # fmt: skip
    people = [(u, p.email, p.name) for u, p in ORG.users.items()]
    with smtp_server() as mail:
        async with workspace(people) as slack, serving(slack, mail, redis_url, tmp_path,
                                                       **settings) as served:  # fmt: skip
            yield served


def status(okta: FakeOkta, username: str) -> str:
    user = okta.user_id(username)
    with okta.lock:
        return str(okta.state.users[user]["status"])


async def pending_push(okta: FakeOkta, username: str, answered: int = 0) -> tuple[str, int]:
    """The push waiting on `username`'s phone (after `answered` earlier ones): its
    transaction id and the number it asks for."""
    user = okta.user_id(username)

    def waiting() -> list[Any]:
        with okta.lock:
            mine = [t for t in okta.state.transactions.values() if t.user_id == user]
        return [t for t in mine if t.result == "WAITING"] if len(mine) > answered else []

    async def pushed() -> bool:
        return bool(waiting())

    await until(pushed)
    (push,) = waiting()
    assert push.number is not None
    return push.id, push.number


async def test_a_locked_out_person_approves_the_okta_verify_push_and_is_unlocked(
    okta: FakeOkta, desk: SlackDesk
) -> None:
    okta.lock_out("ana")
    await desk.says("ana", "I'm locked out of my account")
    push, number = await pending_push(okta, "ana")
    asked = await desk.told("ana", f"Tap {number}")  # number matching: shown in chat
    assert "phone" in asked.text

    okta.answer_push(push, approve=True)  # on the phone; the desk watches the transaction

    await desk.told("ana", "Your account is unlocked")
    assert status(okta, "ana") == "ACTIVE"


async def test_three_denied_pushes_go_to_a_human_and_security_is_told(
    okta: FakeOkta, desk: SlackDesk
) -> None:
    okta.lock_out("mo")
    await desk.says("mo", "I'm locked out of my account")
    for answered in range(3):
        push, _ = await pending_push(okta, "mo", answered)
        okta.answer_push(push, approve=False)

    await desk.told("mo", texts.say("step_up.locked_out"))
    await desk.told("sam", texts.say("step_up.locked_out_notice"))
    assert status(okta, "mo") == "LOCKED_OUT"
    (ticket,) = await desk.runtime.world.tickets.of_requester("mo")
    assert ticket.queue == "accounts"


async def first_poll_done(desk: SlackDesk) -> None:
    records = OutreachRecords(desk.runtime.store)

    async def started() -> bool:
        return await records.cursor() is not None

    await until(started)


async def test_a_lockout_in_the_system_log_is_asked_about_and_answered_both_ways(
    okta: FakeOkta, desk: SlackDesk
) -> None:
    await first_poll_done(desk)
    okta.lock_out("ana")
    okta.lock_out("pat")

    asked = await desk.told("ana", texts.say("outreach.unlock_me"))
    assert "Your account was locked at" in asked.words()
    await desk.presses("ana", asked, texts.say("outreach.unlock_me"))
    push, _ = await pending_push(okta, "ana")
    okta.answer_push(push, approve=True)
    await desk.told("ana", "Your account is unlocked")
    assert status(okta, "ana") == "ACTIVE"

    other = await desk.told("pat", texts.say("outreach.not_me"))
    await desk.presses("pat", other, texts.say("outreach.not_me"))
    await desk.told("pat", texts.say("outreach.not_me_reply"))
    security = [m.words() for m in desk.dm("sam")]
    assert any("Pat Adler" in w or "pat" in w for w in security)
    assert status(okta, "pat") == "LOCKED_OUT"


@pytest.fixture
async def behind_okta(
    okta: FakeOkta, samba_dc: SambaDC, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[SlackDesk, SambaDC, ad_tenant.AdTenant]]:
    """Okta in front of AD: Pat is mastered in AD (Okta shows her active), locked out there."""
    tenant = ad_tenant.seed_tenant(samba_dc, ORG, ROLES)
    try:
        samba_dc.lock_out(tenant.dns["pat"])
        settings: dict[str, Any] = {
            **ad_tenant.settings(samba_dc, tenant), "directory": "okta,ad",
            "okta_url": okta.url, "okta_token": okta.api_token, "checks": "okta_verify",
            "lockout_poll_seconds": 0, "namespace": "okta-ad-slack", **files(tmp_path),
        }  # fmt: skip
        people = [(u, p.email, p.name) for u, p in ORG.users.items()]
        with smtp_server() as mail:
            async with workspace(people) as slack, serving(slack, mail, redis_url, tmp_path,
                                                           **settings) as served:  # fmt: skip
                yield served, samba_dc, tenant
    finally:
        ad_tenant.remove_tenant(samba_dc, tenant)


async def test_an_ad_sourced_person_behind_okta_is_unlocked_in_ad(
    okta: FakeOkta, behind_okta: tuple[SlackDesk, SambaDC, ad_tenant.AdTenant]
) -> None:
    desk, dc, tenant = behind_okta
    assert status(okta, "pat") == "ACTIVE"  # Okta does not see the lock: AD holds it
    assert int(dc.read(tenant.dns["pat"], "lockoutTime")["lockoutTime"][0]) > 0

    await desk.says("pat", "I'm locked out of my account")
    push, _ = await pending_push(okta, "pat")
    okta.answer_push(push, approve=True)

    await desk.told("pat", "Your account is unlocked")
    assert int(dc.read(tenant.dns["pat"], "lockoutTime")["lockoutTime"][0]) == 0
    assert okta.seen("POST", f"/api/v1/users/{okta.user_id('pat')}/lifecycle/unlock") == []
