"""The backends under the contract tests and what the tests may ask of them. The contract
every backend behind the desk's ports must keep (`bot.ports`): the same tests run against
each backend, holding the records of `org.yaml`.

The sandbox joins whole and twice more built without some capabilities, so that both answers
to each capability (it works and reads back; or `Unsupported` naming it, with nothing
changed) are held to. A real backend joins by adding a factory to `BACKENDS` that returns its
ports over a test tenant seeded with `org.yaml` (asking `request` for the fixture of the
server it needs), the capabilities it lacks, how it records the org's people, and where it
has them, a test phone and a clock it can move. OpenLDAP joins so: its directory over a
tenant of the session's slapd, the sandbox's devices and tickets, and the sandbox phone as
the check provider, reaching people at the addresses the directory has on record. Active
Directory joins the same way over a tenant of the session's Samba DC, as the desk's
least-privilege service account over LDAPS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import pytest
from pydantic import SecretStr
from servers import ad_tenant
from servers.duo import IKEY as DUO_IKEY
from servers.duo import SKEY as DUO_SKEY
from servers.duo import DuoDevice, DuoPhone, DuoServer
from servers.okta import FakeOkta
from servers.twilio import ACCOUNT_SID as TWILIO_ACCOUNT_SID
from servers.twilio import AUTH_TOKEN as TWILIO_AUTH_TOKEN
from servers.twilio import SERVICE_SID as TWILIO_SERVICE_SID
from servers.twilio import TwilioPhone, TwilioServer

from adapters.checks.duo import DuoChecks
from adapters.checks.duo_api import DuoApi
from adapters.checks.sandbox import SandboxChecks
from adapters.checks.twilio_api import VerifyApi
from adapters.checks.twilio_verify import TwilioVerifyChecks
from adapters.directory.ldap import LdapDirectory
from adapters.okta.directory import OktaDirectory
from adapters.okta.verify import OktaVerifyChecks
from bot.clock import ManualClock
from bot.directory_files import load_catalogue, load_roles
from bot.models import Person
from bot.org import Org, load_org
from bot.ports import (
    CHECK_CAPABILITIES,
    Checks,
    ContactPoints,
    Devices,
    Directory,
    Tickets,
    Unsupported,
)
from bot.settings_cloud import CloudSettings
from bot.settings_identity import IdentitySettings
from bot.store import Store
from bot.world import SandboxWorld

HERE = Path(__file__).parent
ORG: Org = load_org(HERE / "org.yaml")


def _as_seeded(person: Person) -> Person:
    return person


class Phone(Protocol):
    """What a test person does with their phone: answer a push, read a code."""

    async def answer(self, check_id: str, *, approve: bool) -> object: ...
    async def code(self, check_id: str) -> str | None: ...


@dataclass
class Backend:
    """One backend's ports under test, and what the tests may ask of its test harness."""

    name: str
    directory: Directory
    devices: Devices
    tickets: Tickets
    checks: Checks
    lacks: frozenset[str]
    phone: Phone | None = None  # None: no test phone, the tests that need one are skipped
    advance: Callable[[timedelta], None] | None = None  # moves the backend's clock
    # How the backend records a person of org.yaml, where it cannot hold them as written:
    # a directory derives factors from the addresses it keeps, holds roles as memberships
    # of the roles file's groups and leaves devices to device management.
    recorded: Callable[[Person], Person] = _as_seeded

    def seeded(self, username: str) -> Person:
        """The org file's person as this backend records them."""
        return self.recorded(next(p for p in ORG.people() if p.username == username))

    def needs_phone(self) -> Phone:
        if self.phone is None:
            pytest.skip(f"{self.name} has no test phone")
        return self.phone

    def later(self, delta: timedelta) -> None:
        if self.advance is None:
            pytest.skip(f"{self.name}'s clock cannot be moved")
        self.advance(delta)


class _SandboxPhone:
    def __init__(self, checks: SandboxChecks) -> None:
        self._checks = checks

    async def answer(self, check_id: str, *, approve: bool) -> object:
        return await self._checks.answer(check_id, approve=approve)

    async def code(self, check_id: str) -> str | None:
        item = await self._checks.delivered(check_id)
        return None if item is None else item.secret


# Between them, the two reduced sandboxes lack every capability once.
LACKING_SOME = frozenset({
    "session_count", "unlock", "group_membership", "reset_link", "create_person",
    "install", "device_lock", "push", "withdraw",
})  # fmt: skip
LACKING_OTHERS = frozenset({
    "revoke_sessions", "lock", "disable", "enable", "reset_factors", "enrolment_link",
    "set_password", "uninstall", "sms", "email", "totp",
})  # fmt: skip


Factory = Callable[[Store, pytest.FixtureRequest], Awaitable[Backend]]


def _sandbox(lacks: frozenset[str]) -> Factory:
    async def build(store: Store, request: pytest.FixtureRequest) -> Backend:
        assert ORG.now is not None
        clock = ManualClock(ORG.now)
        world = await SandboxWorld.create(store.child("world"), ORG, clock, unsupported=lacks)
        return Backend(
            name="sandbox",
            directory=world.directory,
            devices=world.devices,
            tickets=world.tickets,
            checks=world.checks,
            lacks=lacks,
            phone=_SandboxPhone(world.checks),
            advance=clock.advance,
        )

    return build


# What an OpenLDAP directory cannot do, and what the sandbox phone cannot reach through the
# addresses it keeps (no push app, no authenticator app on record).
OPENLDAP_LACKS = frozenset({
    "session_count", "revoke_sessions", "reset_factors", "create_person", "reset_link",
    "enrolment_link", "push", "totp",
})  # fmt: skip


async def _openldap(store: Store, request: pytest.FixtureRequest) -> Backend:
    slapd = request.getfixturevalue("slapd")
    roles = load_roles(HERE / "openldap-roles.yaml")
    catalogue = load_catalogue(HERE / "openldap-catalogue.yaml")
    assert (catalogue.groups, catalogue.software) == (ORG.groups, ORG.software)
    tenant = slapd.tenant(ORG, roles)
    settings = IdentitySettings.model_validate(slapd.settings(tenant))
    directory = LdapDirectory.from_settings(settings, roles=roles, catalogue=catalogue)
    request.addfinalizer(directory.close)
    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    world = await SandboxWorld.create(store.child("world"), ORG, clock)
    checks = SandboxChecks(store.child("ldap"), clock, directory, world.outbox,
                           unsupported=OPENLDAP_LACKS & CHECK_CAPABILITIES)  # fmt: skip
    return Backend(
        name="openldap",
        directory=directory,
        devices=world.devices,
        tickets=world.tickets,
        checks=checks,
        lacks=OPENLDAP_LACKS,
        phone=_SandboxPhone(checks),
        advance=clock.advance,
        recorded=tenant.recorded,
    )


# What Active Directory cannot do through the desk: OpenLDAP's list, and a lock (only failed
# sign-ins lock an AD account).
AD_LACKS = OPENLDAP_LACKS | {"lock"}


async def _samba_ad(store: Store, request: pytest.FixtureRequest) -> Backend:
    dc = request.getfixturevalue("samba_dc")
    roles = load_roles(HERE / "ad-roles.yaml")
    catalogue = load_catalogue(HERE / "ad-catalogue.yaml")
    assert (catalogue.groups, catalogue.software) == (ORG.groups, ORG.software)
    tenant = ad_tenant.seed_tenant(dc, ORG, roles)
    request.addfinalizer(lambda: ad_tenant.remove_tenant(dc, tenant))
    settings = IdentitySettings.model_validate(ad_tenant.settings(dc, tenant))
    directory = LdapDirectory.from_settings(settings, roles=roles, catalogue=catalogue)
    request.addfinalizer(directory.close)
    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    world = await SandboxWorld.create(store.child("world"), ORG, clock)
    checks = SandboxChecks(store.child("ad"), clock, directory, world.outbox,
                           unsupported=AD_LACKS & CHECK_CAPABILITIES)  # fmt: skip
    return Backend(
        name="samba-ad",
        directory=directory,
        devices=world.devices,
        tickets=world.tickets,
        checks=checks,
        lacks=AD_LACKS,
        phone=_SandboxPhone(checks),
        advance=clock.advance,
        recorded=tenant.recorded,
    )


# --- Duo Push and Twilio Verify as the check providers --------------------------------------
# The sandbox's directory, devices and tickets, with the checks sent through a fake Duo Auth
# API (pushes only: its phone answers them) or a fake Twilio Verify service (SMS codes only:
# its phone reads them), each on the backend's clock. Duo holds the org's people, with a
# push-capable phone at their number on record for those with the push factor; Twilio Verify
# holds nobody and texts the mobile number the directory has on record.
DUO_LACKS = CHECK_CAPABILITIES - {"push", "withdraw"}
TWILIO_VERIFY_LACKS = CHECK_CAPABILITIES - {"sms", "withdraw"}


class _SandboxContacts:
    """The `Contacts` port over the sandbox directory: the mailbox and the phone on record."""

    def __init__(self, world: SandboxWorld) -> None:
        self._directory = world.directory

    async def contact_points(self, username: str) -> ContactPoints | None:
        person = await self._directory.person(username)
        contact = await self._directory.contact(username)
        if person is None:
            return None
        return ContactPoints(email=person.email, mobile=contact.phone if contact else None)


async def _duo(store: Store, request: pytest.FixtureRequest) -> Backend:
    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    server = DuoServer(clock.now).start()
    request.addfinalizer(server.stop)
    for person in ORG.people():
        capabilities = ("auto", "push", "sms") if "push" in person.factors else ("sms",)
        phone = DuoDevice(f"DP{person.username.upper():0<18}", ORG.phone_of(person.username),
                          "iPhone", capabilities)  # fmt: skip
        server.add_user(person.username, "auth", phone)
    world = await SandboxWorld.create(store.child("world"), ORG, clock)
    api = DuoApi(server.url, DUO_IKEY, SecretStr(DUO_SKEY), clock)
    return Backend(
        name="duo",
        directory=world.directory,
        devices=world.devices,
        tickets=world.tickets,
        checks=DuoChecks(store.child("duo"), clock, api),
        lacks=DUO_LACKS,
        phone=DuoPhone(server),
        advance=clock.advance,
    )


async def _twilio_verify(store: Store, request: pytest.FixtureRequest) -> Backend:
    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    server = TwilioServer(clock.now).start()
    request.addfinalizer(server.stop)
    world = await SandboxWorld.create(store.child("world"), ORG, clock)
    api = VerifyApi(TWILIO_ACCOUNT_SID, SecretStr(TWILIO_AUTH_TOKEN), TWILIO_SERVICE_SID,
                    base_url=server.url)  # fmt: skip
    checks = TwilioVerifyChecks(store.child("twilio"), clock, world.directory,
                                _SandboxContacts(world), api)  # fmt: skip
    return Backend(
        name="twilio-verify",
        directory=world.directory,
        devices=world.devices,
        tickets=world.tickets,
        checks=checks,
        lacks=TWILIO_VERIFY_LACKS,
        phone=TwilioPhone(server),
        advance=clock.advance,
    )


BACKENDS: dict[str, Factory] = {
    "sandbox": _sandbox(frozenset()),
    "sandbox-lacking-some": _sandbox(LACKING_SOME),
    "sandbox-lacking-others": _sandbox(LACKING_OTHERS),
    "openldap": _openldap,
    "samba-ad": _samba_ad,
    "duo": _duo,
    "twilio-verify": _twilio_verify,
}


# --- Okta: OktaDirectory and Okta Verify over the fake Okta org (`servers.okta`), seeded with
# org.yaml; the sandbox's devices and tickets. The fake's clock is the backend's, so pushes
# and codes expire as it moves; its test phone answers pushes and reads the codes Okta sent.
# Okta counts no sessions, locks only after failed sign-ins, takes people from provisioning,
# prompts its own enrolment at the next sign-in and resets passwords by its own link.
OKTA_LACKS = frozenset({
    "session_count", "lock", "create_person", "enrolment_link", "set_password",
})  # fmt: skip


class _OktaPhone:
    def __init__(self, fake: FakeOkta, checks: OktaVerifyChecks) -> None:
        self._fake = fake
        self._checks = checks

    async def answer(self, check_id: str, *, approve: bool) -> object:
        self._fake.answer_push(check_id, approve=approve)  # a push's id is its transaction
        return None

    async def code(self, check_id: str) -> str | None:
        return self._fake.sent_code((await self._checks.record(check_id)).factor_id)


async def _okta(store: Store, request: pytest.FixtureRequest) -> Backend:
    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    fake = FakeOkta(clock).start()
    request.addfinalizer(fake.stop)
    roles = load_roles(HERE / "okta-roles.yaml")
    catalogue = load_catalogue(HERE / "okta-catalogue.yaml")
    assert (catalogue.groups, catalogue.software) == (ORG.groups, ORG.software)
    memberships = fake.seed(ORG, roles)
    settings = CloudSettings.model_validate({"okta_url": fake.url, "okta_token": fake.api_token})
    directory = OktaDirectory.from_settings(settings, roles=roles, catalogue=catalogue,
                                            clock=clock)  # fmt: skip
    world = await SandboxWorld.create(store.child("world"), ORG, clock)
    checks = OktaVerifyChecks(directory, store.child("okta"), clock)
    return Backend(
        name="okta",
        directory=directory,
        devices=world.devices,
        tickets=world.tickets,
        checks=checks,
        lacks=OKTA_LACKS,
        phone=_OktaPhone(fake, checks),
        advance=clock.advance,
        recorded=lambda person: fake.state.recorded(person, memberships),
    )


BACKENDS["okta"] = _okta


async def can(backend: Backend, capability: str, call: Awaitable[object]) -> bool:
    """Run a write that needs `capability`. Where the backend lacks it, the write must raise
    `Unsupported` naming it (False: the caller then checks nothing changed); otherwise it
    must go through (True)."""
    if capability not in backend.lacks:
        await call
        return True
    with pytest.raises(Unsupported) as caught:
        await call
    assert caught.value.capability == capability
    return False


# --- Entra ID ------------------------------------------------------------------------------
# Entra through Microsoft Graph, over the fake Graph (`servers.graph`) seeded with org.yaml
# and the Entra roles file, reset mail through a real SMTP server. Graph has no unlock or
# lock (smart lockout), no session count, and accounts come from provisioning.
ENTRA_LACKS = frozenset({"unlock", "lock", "session_count", "create_person"})


async def _entra(store: Store, request: pytest.FixtureRequest) -> Backend:
    from servers.graph import entra_settings, running_graph
    from servers.graph_tenant import seed
    from servers.smtp import smtp_server

    from adapters.entra.directory import EntraDirectory
    from adapters.mail.smtp import SmtpMailer, SmtpServer

    roles = load_roles(HERE / "entra-roles.yaml")
    catalogue = load_catalogue(HERE / "entra-catalogue.yaml")
    assert (catalogue.groups, catalogue.software) == (ORG.groups, ORG.software)
    seeded = seed(ORG, roles)
    graph = running_graph(seeded.tenant)
    fake = graph.__enter__()
    request.addfinalizer(lambda: graph.__exit__(None, None, None))
    mail = smtp_server()
    smtp = mail.__enter__()
    request.addfinalizer(lambda: mail.__exit__(None, None, None))
    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    mailer = SmtpMailer(SmtpServer.from_url(smtp.url), "desk@contract.test", clock)
    directory = EntraDirectory.from_settings(
        entra_settings(fake), roles=roles, catalogue=catalogue, mailer=mailer,
        store=store.child("entra"), clock=clock,
    )  # fmt: skip
    world = await SandboxWorld.create(store.child("world"), ORG, clock)
    checks = SandboxChecks(store.child("entra-checks"), clock, directory, world.outbox,
                           unsupported=ENTRA_LACKS & CHECK_CAPABILITIES)  # fmt: skip
    return Backend(
        name="entra",
        directory=directory,
        devices=world.devices,
        tickets=world.tickets,
        checks=checks,
        lacks=ENTRA_LACKS,
        phone=_SandboxPhone(checks),
        advance=clock.advance,
        recorded=seeded.recorded,
    )


BACKENDS["entra"] = _entra


# --- ServiceNow: the sandbox's directory, devices and checks, and ServiceNowTickets over the
# fake instance (`servers.servicenow`) holding org.yaml's people as sys_user records, every
# queue mapped to an assignment group, signed in as the integration user by basic auth.
SERVICENOW_GROUPS = {
    "access": "Access Management", "accounts": "Service Desk", "software": "Software",
    "hardware": "Hardware", "network": "Network", "security": "Security Operations",
    "other": "Service Desk Triage",
}  # fmt: skip


async def _servicenow(store: Store, request: pytest.FixtureRequest) -> Backend:
    from servers.servicenow import FakeServiceNow

    from adapters.servicenow.tickets import ServiceNowTickets
    from bot.settings_tickets import TicketSettings

    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    fake = FakeServiceNow(clock.now).start()
    request.addfinalizer(fake.stop)
    fake.seed([(p.username, p.email, p.name) for p in ORG.people()], SERVICENOW_GROUPS)
    world = await SandboxWorld.create(store.child("world"), ORG, clock)
    settings = TicketSettings.model_validate(fake.settings(groups=SERVICENOW_GROUPS))
    tickets = ServiceNowTickets.from_settings(settings, directory=world.directory, clock=clock)
    return Backend(
        name="servicenow",
        directory=world.directory,
        devices=world.devices,
        tickets=tickets,
        checks=world.checks,
        lacks=frozenset(),
        phone=_SandboxPhone(world.checks),
        advance=clock.advance,
    )


BACKENDS["servicenow"] = _servicenow


# --- Jira Service Management: JsmTickets over the fake JSM site (`servers.jsm`), its users
# the org's people by e-mail; the sandbox's directory, devices and checks.
JSM_REQUEST_TYPES = {"other": "11", "access": "12", "security": "13", "accounts": "14",
                     "hardware": "15"}  # fmt: skip


async def _jsm(store: Store, request: pytest.FixtureRequest) -> Backend:
    from servers.jsm import API_TOKEN, DESK_EMAIL, FakeJsm

    from adapters.jsm.tickets import JsmTickets
    from bot.settings_tickets import TicketSettings

    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    fake = FakeJsm(clock.now).start()
    request.addfinalizer(fake.stop)
    for person in ORG.people():
        fake.add_user(person.email, person.name)
    world = await SandboxWorld.create(store.child("world"), ORG, clock)
    settings = TicketSettings.model_validate({
        "tickets": "jsm", "jsm_url": fake.url, "jsm_email": DESK_EMAIL,
        "jsm_api_token": API_TOKEN, "jsm_service_desk_id": fake.state.desk_id,
        "jsm_request_types": JSM_REQUEST_TYPES,
    })  # fmt: skip
    tickets = JsmTickets.from_settings(settings, directory=world.directory, clock=clock)
    return Backend(
        name="jsm",
        directory=world.directory,
        devices=world.devices,
        tickets=tickets,
        checks=world.checks,
        lacks=frozenset(),
        phone=_SandboxPhone(world.checks),
        advance=clock.advance,
    )


BACKENDS["jsm"] = _jsm
