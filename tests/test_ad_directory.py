"""The desk's LDAP directory with ITDESK_DIRECTORY=ad against a real Samba AD DC, as the desk's
least-privilege service account over LDAPS: lock-outs by failed sign-ins seen and ended,
disable and enable, memberships, Domain Admins privileged, password resets under the domain's
policy with must-change, e-mail lookups and managers. Each test has a tenant of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import ldap3
import pytest
from servers import ad_tenant
from servers.ad_tenant import AdTenant
from servers.samba import DOMAIN_ADMINS_DN, SambaDC
from servers.samba import Person as DcPerson

from adapters.directory import ad_ops
from adapters.directory.ldap import LdapDirectory
from adapters.directory.ldap_schema import ACTIVE_DIRECTORY, FLAVOURS
from adapters.directory.ldap_session import Session
from bot.directory_files import CatalogueOverlay, RoleMap
from bot.org import Org, parse_org
from bot.ports import Unsupported
from bot.settings_identity import IdentitySettings

ORG: Org = parse_org(
    {
        "name": "AD",
        "domain": "ad.test",
        "now": "2026-03-02T09:00:00Z",
        "users": {
            "ava": {"name": "Ava Stone", "email": "Ava.Stone@ad.test", "manager": "max",
                    "factors": ["sms"], "phone": "+44 7700 900456", "groups": ["staff"],
                    "recovery_email": "ava.home@example.net", "title": "Analyst",
                    "department": "Finance"},
            "max": {"name": "Max Brand", "email": "max@ad.test", "roles": ["hr"],
                    "groups": ["staff", "reports"]},
            "ivo": {"name": "Ivo Grey", "email": "ivo@ad.test", "manager": "max"},
        },
        "groups": {
            "staff": {"name": "Staff", "owner": "max", "approval": "none"},
            "reports": {"name": "Reports", "owner": "max", "max_days": 30},
        },
    },
    "the AD test org",
)  # fmt: skip
ROLES = RoleMap(roles={"hr": ["hr-team"]}, privileged=["tier0-admins"])
CATALOGUE = CatalogueOverlay(groups=dict(ORG.groups))


@dataclass
class Domain:
    dc: SambaDC
    tenant: AdTenant
    d: LdapDirectory

    def dn(self, username: str) -> str:
        return self.tenant.dns[username]

    def signs_in(self, username: str, password: str | None = None) -> str | None:
        """None when the person binds, else AD's reason (775 locked, 533 disabled, ...)."""
        return self.dc.bind_refusal(self.dn(username), password or self.tenant.passwords[username])


@pytest.fixture
def tenant(samba_dc: SambaDC) -> Iterator[AdTenant]:
    seeded = ad_tenant.seed_tenant(samba_dc, ORG, ROLES)
    yield seeded
    ad_tenant.remove_tenant(samba_dc, seeded)


@pytest.fixture
async def ad(samba_dc: SambaDC, tenant: AdTenant) -> AsyncIterator[Domain]:
    settings = IdentitySettings.model_validate(ad_tenant.settings(samba_dc, tenant))
    assert settings.directory == "ad"
    directory = LdapDirectory.from_settings(settings, roles=ROLES, catalogue=CATALOGUE)
    yield Domain(samba_dc, tenant, directory)
    directory.close()


async def test_failed_sign_ins_lock_a_person_and_the_desk_unlocks_them(ad: Domain) -> None:
    assert not (await ad.d.person("ava")).locked  # type: ignore[union-attr]
    ad.dc.lock_out(ad.dn("ava"))
    assert ad.signs_in("ava") == "775"
    ava = await ad.d.person("ava")
    assert ava is not None
    assert (ava.locked, ava.disabled) == (True, False)

    await ad.d.set_locked("ava", False)
    assert not (await ad.d.person("ava")).locked  # type: ignore[union-attr]
    assert ad.signs_in("ava") is None
    await ad.d.set_locked("ava", False)  # unlocked already: nothing to write


async def test_the_desk_cannot_lock_an_account(ad: Domain) -> None:
    with pytest.raises(Unsupported) as caught:
        await ad.d.set_locked("ivo", True)
    assert caught.value.capability == "lock"
    assert ad.signs_in("ivo") is None


async def test_disable_stops_sign_ins_and_enable_restores_them(ad: Domain) -> None:
    await ad.d.set_disabled("ivo", True)
    await ad.d.set_disabled("ivo", True)  # already so
    ivo = await ad.d.person("ivo")
    assert ivo is not None
    assert (ivo.disabled, ivo.locked) == (True, False)
    assert ad.signs_in("ivo") == "533"
    flags = int(ad.dc.read(ad.dn("ivo"), "userAccountControl")["userAccountControl"][0])
    assert flags == 0x200 | ad_ops.ACCOUNTDISABLE  # a normal account, disabled

    await ad.d.set_disabled("ivo", False)
    assert not (await ad.d.person("ivo")).disabled  # type: ignore[union-attr]
    assert ad.signs_in("ivo") is None
    assert ad.dc.read(ad.dn("ivo"), "userAccountControl")["userAccountControl"] == ["512"]


async def test_memberships_show_at_once_and_repeat_harmlessly(ad: Domain) -> None:
    assert (await ad.d.person("ava")).groups == ("staff",)  # type: ignore[union-attr]
    for _ in range(2):
        await ad.d.add_member("ava", "reports")
        assert (await ad.d.person("ava")).groups == ("staff", "reports")  # type: ignore[union-attr]
    for _ in range(2):
        await ad.d.remove_member("ava", "staff")
        assert (await ad.d.person("ava")).groups == ("reports",)  # type: ignore[union-attr]
    assert [p.username for p in await ad.d.people_with_role("hr")] == ["max"]


async def test_a_domain_admin_is_privileged(ad: Domain) -> None:
    root = DcPerson("ad-root", "Ro Admin", mail="root@ad.test", admin=True,
                    base=ad.tenant.user_base)  # fmt: skip
    ad.dc.seed([root])
    assert (await ad.d.person("ad-root")).privileged  # type: ignore[union-attr]
    assert not (await ad.d.person("ava")).privileged  # type: ignore[union-attr]
    # a Domain Admin since a moment ago, which SDProp has not marked with adminCount
    ad.dc.change(DOMAIN_ADMINS_DN, {"member": [(ldap3.MODIFY_ADD, [ad.dn("ivo")])]})
    assert not ad.dc.read(ad.dn("ivo"), "adminCount").get("adminCount")
    assert (await ad.d.person("ivo")).privileged  # type: ignore[union-attr]
    assert "ivo" in [p.username for p in await ad.d.people() if p.privileged]


async def test_a_password_is_reset_over_ldaps_under_the_domains_policy(ad: Domain) -> None:
    with pytest.raises(ValueError, match="domain's password policy") as caught:
        await ad.d.set_password("ava", "short", must_change=False)
    assert "short" not in str(caught.value)
    assert ad.signs_in("ava") is None  # the old one stands

    await ad.d.set_password("ava", "Fresh-Pass-99", must_change=False)
    assert ad.signs_in("ava", "Fresh-Pass-99") is None
    assert ad.signs_in("ava") == "52e"

    await ad.d.set_password("ava", "Temporary-Pass-7", must_change=True)
    assert ad.dc.read(ad.dn("ava"), "pwdLastSet")["pwdLastSet"] == ["0"]
    assert ad.signs_in("ava", "Temporary-Pass-7") == "773"  # to be changed first
    await ad.d.set_password("ava", "Settled-Pass-8", must_change=False)
    assert int(ad.dc.read(ad.dn("ava"), "pwdLastSet")["pwdLastSet"][0]) > 0
    assert ad.signs_in("ava", "Settled-Pass-8") is None


def test_a_password_is_never_sent_over_plain_ldap(samba_dc: SambaDC) -> None:
    plain = ldap3.Connection(samba_dc.server(ldaps=False))
    session = Session(plain)
    with pytest.raises(ad_ops.InsecureConnection, match="ldaps://"):
        ACTIVE_DIRECTORY.set_password(session, samba_dc.service_dn, "Never-Sent-1")
    assert not session.sent
    assert not plain.bound


async def test_people_are_found_by_email_and_their_manager_by_dn(ad: Domain) -> None:
    ava = await ad.d.person("ava")
    assert ava is not None
    assert (ava.name, ava.email, ava.manager) == ("Ava Stone", "Ava.Stone@ad.test", "max")
    assert (ava.title, ava.department, ava.factors) == ("Analyst", "Finance", ("email", "sms"))
    assert await ad.d.person_by_email(" ava.stone@AD.test ") == ava
    assert await ad.d.person_by_email("ava.home@example.net") == ava  # otherMailbox
    assert await ad.d.person_by_email("nobody@ad.test") is None
    assert [p.username for p in await ad.d.reports_of("max")] == ["ava", "ivo"]
    assert [p.username for p in await ad.d.people()] == ["ava", "ivo", "max"]
    points = await ad.d.contact_points("ava")
    assert points is not None
    assert (points.secondary_email, points.mobile) == ("ava.home@example.net", "+44 7700 900456")


def test_the_ad_flavour_is_registered_with_ads_defaults() -> None:
    flavour = FLAVOURS["ad"]
    a = flavour.attributes
    assert (a.username, a.email, a.secondary_email, a.mobile, a.manager) == (
        "sAMAccountName", "mail", "otherMailbox", "mobile", "manager")  # fmt: skip
    assert (a.display_name[0], a.title, a.department) == ("displayName", "title", ("department",))
    assert flavour.user_filter == "(&(objectCategory=person)(objectClass=user))"
    assert (flavour.group_filter, flavour.group_id) == ("(objectClass=group)", "sAMAccountName")
    assert (flavour.member, flavour.member_of, flavour.lacks) == ("member", "memberOf", {"lock"})


async def test_a_domain_without_entra_connect_s_attribute_finds_nobody_by_cloud_id(
    ad: Domain,
) -> None:
    # Samba's schema (and AD's before 2016) has no msDS-ExternalDirectoryObjectId: the
    # lookup finds nobody, and Teams falls back to the UPN and e-mail
    assert await ad.d.person_by_cloud_id("5f2b9c1e-0c4a-4d7e-9a61-2b8f1d3c7e40") is None
