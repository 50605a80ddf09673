"""The desk as a real organisation runs it: `itdesk serve` with ITDESK_DIRECTORY=ldap and no
org file, in Slack, over a real slapd (the people, their lock-outs, their groups) and a real
SMTP server (the codes and links, at the addresses on record). Slack is the fake workspace
of the Slack tests; everything behind the desk is real."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from servers.ldif import Tenant
from servers.slapd import Slapd
from servers.smtp import smtp_server
from slack_desk import SlackDesk, serving, workspace
from waiting import until

from bot import texts
from bot.directory_files import RoleMap
from bot.org import Org, parse_org

ORG: Org = parse_org(
    {
        "name": "Ldap Co", "domain": "ldapco.test", "now": "2026-03-02T09:00:00Z",
        "users": {
            "ana": {"name": "Ana Silva", "email": "ana@ldapco.test", "manager": "mo",
                    "factors": ["email"], "groups": ["staff"],
                    "recovery_email": "ana.home@example.net"},
            "mo": {"name": "Mo Tanaka", "email": "mo@ldapco.test", "groups": ["staff"],
                   "factors": ["email"], "recovery_email": "mo.home@example.net"},
            "rae": {"name": "Rae Root", "email": "rae@ldapco.test", "privileged": True,
                    "factors": ["email"], "recovery_email": "rae.home@example.net"},
        },
        "groups": {
            "staff": {"name": "Staff", "owner": "mo", "approval": "none"},
            "reports": {"name": "Sales Reports", "owner": "mo", "max_days": 30},
        },
    },
    "the real-directory test org",
)  # fmt: skip
ROLES = RoleMap(privileged=["domain-admins"])
CODE = re.compile(r"\b(\d{6})\b")
LINK = re.compile(r"https?://\S+/reset/([A-Za-z0-9_-]+)")


@dataclass
class Company(SlackDesk):
    """The desk serving Ldap Co in Slack, and the slapd tenant behind it."""

    slapd: Slapd
    tenant: Tenant


@pytest.fixture
async def company(slapd: Slapd, redis_url: str, tmp_path: Path) -> AsyncIterator[Company]:
    tenant = slapd.tenant(ORG, ROLES)
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(yaml.safe_dump({"groups": {g: v.model_dump(exclude_defaults=True)
                                                    for g, v in ORG.groups.items()}}))  # fmt: skip
    roles = tmp_path / "roles.yaml"
    roles.write_text(yaml.safe_dump({"privileged": ["domain-admins"]}))
    people = [(u, p.email, p.name) for u, p in ORG.users.items()]
    with smtp_server() as mail:
        async with workspace([*people, ("zed", "zed@elsewhere.test", "Zed Stranger")]) as slack:
            settings = {**slapd.settings(tenant), "roles_file": roles,
                        "catalogue_file": catalogue, "namespace": "real-directory"}  # fmt: skip
            async with serving(slack, mail, redis_url, tmp_path, **settings) as desk:
                yield Company(desk.http, slack, mail, desk.runtime, slapd, tenant)


async def test_a_locked_out_person_gets_a_code_by_email_and_can_sign_in_again(
    company: Company,
) -> None:
    ana = company.tenant.dn("ana")
    for _ in range(3):
        assert not company.slapd.can_bind(ana, "not her password")
    assert not company.slapd.can_bind(ana, company.tenant.passwords["ana"])  # locked out

    await company.says("ana", "I'm locked out of my account")
    asked = await company.answer("ana", 1)
    assert "a•••@example.net" in asked.words() or "•" in asked.words()
    code = CODE.search(await company.mail_to("ana.home@example.net", 1))
    assert code is not None
    assert code[1] not in asked.words()  # the code is in the mail, never in Slack

    await company.says("ana", code[1])
    await company.answer("ana", 2)
    assert company.slapd.can_bind(ana, company.tenant.passwords["ana"])
    assert all(code[1] not in str(call.args) for call in company.slack.calls)


async def test_a_forgotten_password_is_reset_on_the_desks_page(company: Company) -> None:
    await company.says("ana", "I forgot my password, please reset it")
    await company.answer("ana", 1)
    code = CODE.search(await company.mail_to("ana.home@example.net", 1))
    assert code is not None
    await company.says("ana", code[1])
    link = LINK.search(await company.mail_to("ana.home@example.net", 2))
    assert link is not None
    path = urlsplit(link[0]).path
    form = await (await company.http.get(path)).text()
    nonce = re.search(r'name="nonce" value="([^"]+)"', form)
    assert nonce is not None
    new = "a new long passphrase 42"
    sent = await company.http.post(path, data={"nonce": nonce[1], "password": new, "again": new},
                                   headers={"Sec-Fetch-Site": "same-origin"})  # fmt: skip
    assert sent.status == 200, await sent.text()
    assert company.slapd.can_bind(company.tenant.dn("ana"), new)
    await company.told("ana", texts.say("reset.changed"))
    assert all(new not in str(call.args) for call in company.slack.calls)


async def test_access_is_granted_when_the_groups_owner_approves_in_slack(
    company: Company,
) -> None:
    await company.says("ana", "can I get access to the sales reports group for 2 weeks?")
    await company.answer("ana", 1)
    code = CODE.search(await company.mail_to("ana.home@example.net", 1))
    assert code is not None
    await company.says("ana", code[1])
    card = await company.answer("mo", 1)  # the group's owner, as the catalogue file names
    await company.presses("mo", card, "Approve")
    reports = company.tenant.group_dn("reports").lower()

    async def granted() -> bool:
        return reports in _member_of(company, "ana")

    await until(granted)
    await company.told("ana", "Sales Reports")


def _member_of(company: Company, username: str) -> list[str]:
    found = company.slapd.read(company.tenant.dn(username), ["memberOf"])
    return [dn.lower() for dn in found.get("memberOf", [])]


async def test_a_privileged_account_is_not_acted_on_and_a_stranger_is_refused(
    company: Company,
) -> None:
    rae = company.tenant.dn("rae")
    for _ in range(3):
        company.slapd.can_bind(rae, "wrong")
    await company.says("rae", "I'm locked out")
    reply = await company.answer("rae", 1)  # a technician's, not the desk's alone
    (ticket,) = await company.runtime.world.tickets.of_requester("rae")
    assert ticket.id in reply.text
    assert company.mail.boxes.to("rae.home@example.net") == []  # no code: not the desk's to do
    assert not company.slapd.can_bind(rae, company.tenant.passwords["rae"])  # still locked

    await company.says("zed", "I'm locked out")
    refusal = await company.answer("zed", 1)
    assert refusal.text == texts.say("unknown_person")
