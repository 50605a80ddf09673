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
from servers import ad_tenant
from servers.okta import FakeOkta

from adapters.checks.sandbox import SandboxChecks
from adapters.directory.ldap import LdapDirectory
from adapters.okta.directory import OktaDirectory
from adapters.okta.verify import OktaVerifyChecks
from bot.clock import ManualClock
from bot.directory_files import load_catalogue, load_roles
from bot.models import Person
from bot.org import Org, load_org
from bot.ports import CHECK_CAPABILITIES, Checks, Devices, Directory, Tickets, Unsupported
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


BACKENDS: dict[str, Factory] = {
    "sandbox": _sandbox(frozenset()),
    "sandbox-lacking-some": _sandbox(LACKING_SOME),
    "sandbox-lacking-others": _sandbox(LACKING_OTHERS),
    "openldap": _openldap,
    "samba-ad": _samba_ad,
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
