"""The lockout feeds of the LDAP directories against the real servers: a slapd whose ppolicy
locks an account after three failed binds (and whose administrator's lock is the desk's
disabled account), and a Samba AD DC that locks one after failed sign-ins. A first poll
starts now; a lockout is found once it happens, under the same id however often it is read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from servers import ad_tenant
from servers.ad_tenant import AdTenant
from servers.ldif import Tenant
from servers.samba import SambaDC
from servers.slapd import Slapd
from test_ad_directory import CATALOGUE as AD_CATALOGUE
from test_ad_directory import ORG as AD_ORG
from test_ad_directory import ROLES as AD_ROLES
from test_ldap_directory import ORG, ROLES, directory_for

from adapters.directory.ldap import LdapDirectory
from adapters.directory.ldap_lockouts import BY_ADMINISTRATOR, FAILED_SIGN_INS, generalized_time
from bot.ports import Lockout, LockoutPage
from bot.settings_identity import IdentitySettings

SOON = timedelta(minutes=1)  # the servers run on this machine's clock


def by_user(page: LockoutPage) -> dict[str, Lockout]:
    return {lockout.username: lockout for lockout in page.lockouts}


def recent(at: datetime) -> bool:
    return abs(datetime.now(UTC) - at) < SOON


@pytest.fixture
async def ldap(slapd: Slapd) -> AsyncIterator[tuple[LdapDirectory, Tenant]]:
    tenant = slapd.tenant(ORG, ROLES)
    directory = directory_for(slapd, tenant)
    yield directory, tenant
    directory.close()


async def test_ppolicy_lockouts_are_found_from_the_cursor_on(
    ldap: tuple[LdapDirectory, Tenant], slapd: Slapd
) -> None:
    d, tenant = ldap
    feed = d.lockouts()
    first = await feed.lockouts_since(None)
    assert first.lockouts == ()  # lou, locked out long ago, is history

    for _ in range(3):
        assert not slapd.can_bind(tenant.dn("ana"), "not her password")
    page = await feed.lockouts_since(first.cursor)
    found = by_user(page)
    assert "lou" not in found
    ana = found["ana"]
    stamp = slapd.read(tenant.dn("ana"), ["pwdAccountLockedTime"])["pwdAccountLockedTime"][0]
    assert ana.id == f"ana@{stamp}"
    assert (ana.source, ana.reason, ana.kind) == ("ldap", FAILED_SIGN_INS, "locked")
    assert recent(ana.at)
    assert ana.at == generalized_time(stamp)
    assert datetime.fromisoformat(page.cursor) >= ana.at

    again = by_user(await feed.lockouts_since(page.cursor))  # read again: the same id
    assert again["ana"].id == ana.id
    await d.set_locked("ana", False)
    assert "ana" not in by_user(await feed.lockouts_since(page.cursor))


async def test_an_administrators_lock_is_said_to_be_one(
    ldap: tuple[LdapDirectory, Tenant],
) -> None:
    d, _ = ldap
    feed = d.lockouts()
    cursor = (await feed.lockouts_since(None)).cursor
    await d.set_disabled("mo", True)  # ppolicy's administrator's lock
    mo = by_user(await feed.lockouts_since(cursor))["mo"]
    assert mo.reason == BY_ADMINISTRATOR
    assert mo.id.startswith("mo@000001010000Z:")
    assert recent(mo.at)


def test_generalized_times_read_with_or_without_fractions() -> None:
    assert generalized_time("20260302091200Z") == datetime(2026, 3, 2, 9, 12, tzinfo=UTC)
    assert generalized_time("20260302091200.5Z") == datetime(2026, 3, 2, 9, 12, 0, 500000,
                                                             tzinfo=UTC)  # fmt: skip
    assert generalized_time("20260302101200+0100") == datetime(2026, 3, 2, 9, 12, tzinfo=UTC)
    assert generalized_time("000001010000Z") is None
    assert generalized_time("") is None


# --- Active Directory --------------------------------------------------------------------


@pytest.fixture
def ad_domain(samba_dc: SambaDC) -> Iterator[AdTenant]:
    seeded = ad_tenant.seed_tenant(samba_dc, AD_ORG, AD_ROLES)
    yield seeded
    ad_tenant.remove_tenant(samba_dc, seeded)


async def test_failed_sign_ins_in_ad_are_found_by_lockout_time(
    samba_dc: SambaDC, ad_domain: AdTenant
) -> None:
    settings = IdentitySettings.model_validate(ad_tenant.settings(samba_dc, ad_domain))
    d = LdapDirectory.from_settings(settings, roles=AD_ROLES, catalogue=AD_CATALOGUE)
    try:
        feed = d.lockouts()
        first = await feed.lockouts_since(None)
        assert first.lockouts == ()
        samba_dc.lock_out(ad_domain.dns["ava"])
        page = await feed.lockouts_since(first.cursor)
        ava = by_user(page)["ava"]
        stamp = samba_dc.read(ad_domain.dns["ava"], "lockoutTime")["lockoutTime"]
        stamp = stamp[0] if isinstance(stamp, list) else stamp
        assert ava.id == f"ava@{stamp}"
        assert (ava.source, ava.reason) == ("ad", FAILED_SIGN_INS)
        assert recent(ava.at)
        assert "ivo" not in by_user(page)

        assert by_user(await feed.lockouts_since(page.cursor))["ava"].id == ava.id
        await d.set_locked("ava", False)  # lockoutTime 0: no longer found
        assert "ava" not in by_user(await feed.lockouts_since(page.cursor))
    finally:
        d.close()
