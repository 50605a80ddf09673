"""The OpenLDAP directory against a real slapd: ppolicy lock-outs seen and ended, disable and
enable, memberships as `memberOf` shows them, roles and privilege from the roles file,
managers, e-mail lookups, passwords through the policy, entries it must skip, the settings
as an operator writes them, and a directory that is down, stopped or hung. The service
account's password is in no log line, exception or repr."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from ldap3.utils import log as ldap3_log
from servers import slapd as test_server
from servers.ldif import Tenant
from servers.lossy import LossyRelay
from servers.slapd import Slapd, running_slapd

from adapters.directory import ldap_session
from adapters.directory.ldap import LdapDirectory
from adapters.directory.ldap_session import DirectoryRefused, DirectoryUnavailable
from bot.directory_files import CatalogueOverlay, RoleMap
from bot.models import Group
from bot.org import Org, parse_org
from bot.ports import ContactPoints, NotFoundError, OutcomeUnknown, Unsupported
from bot.settings import Settings
from bot.settings_identity import IdentitySettings

ORG: Org = parse_org(
    {
        "name": "LDAP",
        "domain": "ldap.test",
        "now": "2026-03-02T09:00:00Z",
        "users": {
            "ana": {"name": "Ana Silva", "email": "ana@ldap.test", "manager": "mo",
                    "factors": ["sms"], "phone": "+44 7700 900123", "groups": ["staff"],
                    "recovery_email": "ana.home@example.net", "title": "Analyst",
                    "department": "Finance"},
            "mo": {"name": "Mo Tanaka", "email": "Mo.Tanaka@ldap.test", "roles": ["hr"],
                   "groups": ["staff", "reports"]},
            "ida": {"name": "Ida Berg", "email": "ida@ldap.test", "manager": "mo",
                    "disabled": True},
            "lou": {"name": "Lou Reed", "email": "lou@ldap.test", "locked": True},
            "rae": {"name": "Rae Root", "email": "rae@ldap.test", "privileged": True},
        },
        "groups": {
            "staff": {"name": "Staff", "owner": "mo", "approval": "none"},
            "reports": {"name": "Reports", "owner": "mo", "max_days": 30},
        },
    },
    "the LDAP test org",
)  # fmt: skip
ROLES = RoleMap(roles={"hr": ["hr-team"], "admin": ["it-admins"]}, privileged=["domain-admins"])
CATALOGUE = CatalogueOverlay(groups=dict(ORG.groups))
PAUSES: list[float] = []


async def no_pause(seconds: float) -> None:
    PAUSES.append(seconds)


def directory_for(slapd: Slapd, tenant: Tenant, **settings: Any) -> LdapDirectory:
    identity = IdentitySettings.model_validate(slapd.settings(tenant, **settings))
    return LdapDirectory.from_settings(identity, roles=ROLES, catalogue=CATALOGUE, sleep=no_pause)


@pytest.fixture
def tenant(slapd: Slapd) -> Tenant:
    return slapd.tenant(ORG, ROLES)


@pytest.fixture
async def d(slapd: Slapd, tenant: Tenant) -> AsyncIterator[LdapDirectory]:
    PAUSES.clear()
    directory = directory_for(slapd, tenant)
    yield directory
    directory.close()


async def person(d: LdapDirectory, username: str) -> Any:
    found = await d.person(username)
    assert found is not None
    return found


# --- account state ----------------------------------------------------------------------------


async def test_three_bad_binds_lock_the_account_and_unlocking_lets_the_person_in(
    d: LdapDirectory, slapd: Slapd, tenant: Tenant
) -> None:
    ana, password = tenant.dn("ana"), tenant.passwords["ana"]
    assert not (await person(d, "ana")).locked
    for _ in range(3):
        assert not slapd.can_bind(ana, "not her password")
    assert not slapd.can_bind(ana, password)  # ppolicy locked her out
    assert (await person(d, "ana")).locked
    assert "pwdFailureTime" in slapd.read(ana, ["pwdFailureTime"])
    await d.set_locked("ana", False)
    assert not (await person(d, "ana")).locked
    assert slapd.read(ana, ["pwdAccountLockedTime", "pwdFailureTime"]) == {}
    assert slapd.can_bind(ana, password)


async def test_the_desk_locks_and_unlocks_and_repeats_harmlessly(
    d: LdapDirectory, slapd: Slapd, tenant: Tenant
) -> None:
    await d.set_locked("ana", True)
    await d.set_locked("ana", True)
    assert (await person(d, "ana")).locked
    assert not slapd.can_bind(tenant.dn("ana"), tenant.passwords["ana"])
    await d.set_locked("ana", False)
    await d.set_locked("ana", False)
    assert slapd.can_bind(tenant.dn("ana"), tenant.passwords["ana"])
    assert (await person(d, "lou")).locked  # seeded locked out
    with pytest.raises(NotFoundError):
        await d.set_locked("nobody", False)


async def test_disable_and_enable_use_the_administrators_lock(
    d: LdapDirectory, slapd: Slapd, tenant: Tenant
) -> None:
    await d.set_disabled("ana", True)
    ana = await person(d, "ana")
    assert (ana.disabled, ana.locked) == (True, False)
    assert slapd.read(tenant.dn("ana"), ["pwdAccountLockedTime"]) == {
        "pwdAccountLockedTime": ["000001010000Z"]
    }
    assert not slapd.can_bind(tenant.dn("ana"), tenant.passwords["ana"])
    await d.set_locked("ana", False)  # unlocking does not enable
    assert (await person(d, "ana")).disabled
    await d.set_disabled("ana", False)
    await d.set_disabled("ana", False)
    assert not (await person(d, "ana")).disabled
    assert slapd.can_bind(tenant.dn("ana"), tenant.passwords["ana"])
    await d.set_disabled("lou", False)  # enabling does not end a lock-out
    assert (await person(d, "lou")).locked
    assert (await person(d, "ida")).disabled  # seeded disabled


# --- groups, roles, managers, lookups ---------------------------------------------------------


async def test_memberships_change_as_memberof_shows_and_roles_follow(
    d: LdapDirectory, slapd: Slapd, tenant: Tenant
) -> None:
    def member_of() -> list[str]:
        return slapd.read(tenant.dn("ana"), ["memberOf"]).get("memberOf", [])

    await d.add_member("ana", "reports")
    await d.add_member("ana", "reports")
    assert member_of() == [tenant.group_dn("staff"), tenant.group_dn("reports")]
    assert (await person(d, "ana")).groups == ("staff", "reports")
    await d.remove_member("ana", "staff")
    await d.remove_member("ana", "staff")
    assert member_of() == [tenant.group_dn("reports")]
    await d.add_member("ana", "hr-team")  # any group by id, requestable or not
    ana = await person(d, "ana")
    assert (ana.groups, ana.roles) == (("reports", "hr-team"), ("hr",))
    assert [p.username for p in await d.people_with_role("hr")] == ["ana", "mo"]
    with pytest.raises(NotFoundError):
        await d.add_member("ana", "no-such-group")
    with pytest.raises(NotFoundError):
        await d.remove_member("nobody", "staff")


async def test_requestable_groups_come_from_the_catalogue(d: LdapDirectory) -> None:
    assert [g.id for g in await d.groups()] == ["reports", "staff"]
    assert await d.group("STAFF") == Group(id="staff", **ORG.groups["staff"].model_dump())
    assert await d.group("hr-team") is None  # in the directory, not offered


async def test_privilege_and_roles_come_from_the_roles_file(d: LdapDirectory) -> None:
    rae, mo = await person(d, "rae"), await person(d, "mo")
    assert (rae.privileged, rae.groups) == (True, ("domain-admins",))
    assert (mo.privileged, mo.roles) == (False, ("hr",))
    assert await d.people_with_role("admin") == []  # nobody in it-admins (it does not exist)


async def test_managers_are_usernames_whatever_the_dn(
    d: LdapDirectory, slapd: Slapd, tenant: Tenant
) -> None:
    assert (await person(d, "ana")).manager == "mo"
    assert [p.username for p in await d.reports_of("mo")] == ["ana", "ida"]
    assert await d.reports_of("nobody") == []
    # a manager whose DN is not uid=...: read from the entry
    slapd.add(f"""dn: cn=Pat Doe,{tenant.user_base}
objectClass: inetOrgPerson
cn: Pat Doe
sn: Doe
uid: pat
mail: pat@ldap.test

dn: uid=sam,{tenant.user_base}
objectClass: inetOrgPerson
cn: Sam Ek
sn: Ek
uid: sam
mail: sam@ldap.test
manager: cn=Pat Doe,{tenant.user_base}
""")
    assert (await person(d, "sam")).manager == "pat"
    assert [p.username for p in await d.reports_of("pat")] == ["sam"]


async def test_people_are_found_by_either_address_whatever_its_case(d: LdapDirectory) -> None:
    mo = await person(d, "mo")
    assert await d.person_by_email("  mo.tanaka@LDAP.test ") == mo
    assert (await person(d, "ana")) == await d.person_by_email("ANA.HOME@example.net")
    assert await d.person_by_email("nobody@ldap.test") is None
    assert await d.person_by_email(" ") is None


async def test_contact_points_factors_and_masked_addresses(d: LdapDirectory) -> None:
    assert await d.contact_points("ana") == ContactPoints(
        email="ana@ldap.test", secondary_email="ana.home@example.net", mobile="+44 7700 900123"
    )
    assert await d.contact_points("nobody") is None
    ana, mo = await person(d, "ana"), await person(d, "mo")
    assert (ana.factors, mo.factors) == (("email", "sms"), ("email",))
    assert (ana.name, ana.title, ana.department) == ("Ana Silva", "Analyst", "Finance")
    assert await d.factor_address("ana", "sms") == "+44 \u2022\u2022\u2022\u2022 \u2022\u202223"
    assert await d.recovery_address("ana") == "a\u2022\u2022\u2022@example.net"  # secondary
    assert await d.factor_address("mo", "email") == "M\u2022\u2022\u2022@ldap.test"
    assert await d.factor_address("mo", "sms") is None
    assert await d.factor_address("ana", "push") is None


async def test_people_are_read_in_pages(d: LdapDirectory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ldap_session, "PAGE_SIZE", 2)
    people = await d.people()
    assert [p.username for p in people] == sorted(ORG.users)
    assert people[0] == await d.person("ana")


async def test_ambiguous_and_nameless_entries_are_skipped_and_logged(
    d: LdapDirectory, slapd: Slapd, tenant: Tenant
) -> None:
    slapd.add(f"""dn: ou=elsewhere,{tenant.user_base}
objectClass: organizationalUnit
ou: elsewhere

dn: uid=ana,ou=elsewhere,{tenant.user_base}
objectClass: inetOrgPerson
uid: ana
cn: Another Ana
sn: Ana
mail: ana2@ldap.test

dn: cn=No Name,{tenant.user_base}
objectClass: inetOrgPerson
cn: No Name
sn: Name
mail: ida@ldap.test

dn: uid=zed,{tenant.user_base}
objectClass: inetOrgPerson
uid: zed
cn: Zed Ito
sn: Ito
mail: mo.tanaka@ldap.test
""")
    with structlog.testing.capture_logs() as logs:
        assert await d.person("ana") is None
        assert "ana" not in [p.username for p in await d.people()]
        assert await d.person_by_email("ana@ldap.test") is None  # her username is not hers alone
        assert await d.person_by_email("ana2@ldap.test") is None
        assert await d.person_by_email("mo.tanaka@ldap.test") is None  # a shared address
        with pytest.raises(NotFoundError):
            await d.set_locked("ana", True)
        assert await d.person_by_email("ida@ldap.test") == await d.person("ida")  # not nameless
    events = [e["event"] for e in logs]
    assert "ldap.person_ambiguous" in events
    assert "ldap.entry_skipped" in events
    assert await d.person("mo") is not None


async def test_what_openldap_cannot_do_is_unsupported(d: LdapDirectory) -> None:
    calls = {
        "revoke_sessions": d.revoke_sessions("ana"), "session_count": d.sessions("ana"),
        "reset_factors": d.reset_factors("ana"), "create_person": d.create_person(
            await person(d, "ana")
        ), "reset_link": d.send_reset_link("ana"), "enrolment_link": d.send_enrolment_link("ana"),
    }  # fmt: skip
    for capability, call in calls.items():
        with pytest.raises(Unsupported) as caught:
            await call
        assert caught.value.capability == capability


# --- passwords --------------------------------------------------------------------------------


async def test_passwords_go_through_the_policy(
    d: LdapDirectory, slapd: Slapd, tenant: Tenant
) -> None:
    ana = tenant.dn("ana")
    with pytest.raises(ValueError, match="too short"):
        await d.set_password("ana", "short", must_change=False)
    assert slapd.can_bind(ana, tenant.passwords["ana"])
    await d.set_password("ana", "a good long one 1", must_change=False)
    assert slapd.can_bind(ana, "a good long one 1")
    assert "pwdReset" not in slapd.read(ana, ["pwdReset"])
    with pytest.raises(ValueError, match="used before"):
        await d.set_password("ana", "a good long one 1", must_change=False)
    await d.set_password("ana", "another good one 2", must_change=True)
    assert slapd.read(ana, ["pwdReset"]) == {"pwdReset": ["TRUE"]}
    await d.set_password("ana", "and a third one 3", must_change=False)
    assert "pwdReset" not in slapd.read(ana, ["pwdReset"])
    with pytest.raises(NotFoundError):
        await d.set_password("nobody", "a good long one 1", must_change=False)
    with pytest.raises(ValueError, match="empty"):
        await d.set_password("ana", "", must_change=False)


# --- settings, secrets, outages ---------------------------------------------------------------


async def test_the_settings_an_operator_writes_build_the_directory(
    slapd: Slapd, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roles, catalogue = tmp_path / "roles.yaml", tmp_path / "catalogue.yaml"
    roles.write_text(yaml.safe_dump(ROLES.model_dump()))
    groups = {k: v.model_dump(exclude_none=True) for k, v in ORG.groups.items()}
    catalogue.write_text(yaml.safe_dump({"groups": groups}))
    environment = {f"ITDESK_{k.upper()}": v for k, v in slapd.settings(tenant).items()} | {
        "ITDESK_LDAP_ATTRIBUTES": '{"secondary_email": "recoveryMail"}',
        "ITDESK_LDAP_TIMEOUT": "5",
        "ITDESK_ROLES_FILE": str(roles),
        "ITDESK_CATALOGUE_FILE": str(catalogue),
        "ITDESK_SMTP_URL": "smtp://127.0.0.1:2525",
        "ITDESK_SMTP_FROM": "desk@ldap.test",
        "ITDESK_WEB_CHAT": "false",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env
    directory = LdapDirectory.from_settings(Settings())
    try:
        rae = await directory.person("rae")
        assert rae is not None
        assert rae.privileged
        assert await directory.group("reports") is not None
        assert await directory.person_by_email("ana.home@example.net") is not None
    finally:
        directory.close()


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.args!r} {record.exc_text or ''}")


@pytest.fixture
def every_log_line() -> Iterator[_Everything]:
    """Every stdlib log line, at DEBUG."""
    handler, root = _Everything(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def ldap3_protocol_log(every_log_line: _Everything) -> Iterator[_Everything]:
    """ldap3's own log turned all the way up (it is off unless someone turns it on)."""
    activation, detail = ldap3_log.get_library_log_activation_lavel(), ldap3_log._detail_level
    ldap3_log.set_library_log_activation_level(logging.DEBUG)
    ldap3_log.set_library_log_detail_level(ldap3_log.EXTENDED)
    try:
        yield every_log_line
    finally:
        ldap3_log.set_library_log_detail_level(detail)
        ldap3_log.set_library_log_activation_level(activation)


def said(exc: BaseException) -> list[str]:
    """What an exception and the ones it came from say."""
    told: list[str] = []
    chain: BaseException | None = exc
    while chain is not None:
        told += [str(chain), repr(chain)]
        chain = chain.__cause__ or chain.__context__
    return told


async def test_the_bind_password_is_in_no_log_line_exception_or_repr(
    slapd: Slapd, tenant: Tenant, ldap3_protocol_log: _Everything
) -> None:
    wrong = "not-the-desk-password-4711"
    seen: list[str] = []
    with structlog.testing.capture_logs() as logs:
        good = directory_for(slapd, tenant)
        await good.person("ana")
        await good.set_locked("ana", True)
        seen.append(repr(good))
        with pytest.raises(RuntimeError, match="protocol log is on") as refused:
            await good.set_password("ana", "a good long one 1", must_change=False)
        seen += said(refused.value)
        good.close()
        for directory in (directory_for(slapd, tenant, ldap_bind_password=wrong),
                          directory_for(slapd, tenant, ldap_url="ldap://127.0.0.1:9")):  # fmt: skip
            with pytest.raises((DirectoryRefused, DirectoryUnavailable)) as caught:
                await directory.person("ana")
            seen += [*said(caught.value), repr(directory)]
            directory.close()
    seen += [repr(e) for e in logs] + ldap3_protocol_log.lines
    assert any("service account" in s for s in seen)  # the refusal was seen, and said why
    assert any("bindRequest" in s for s in ldap3_protocol_log.lines)  # ldap3 logged its binds
    for secret in (slapd.desk_password, wrong, "a good long one 1"):
        assert not [s for s in seen if secret in s]


async def test_a_new_password_is_in_no_log_line_or_exception(
    d: LdapDirectory, slapd: Slapd, tenant: Tenant, every_log_line: _Everything
) -> None:
    seen: list[str] = []
    with structlog.testing.capture_logs() as logs:
        with pytest.raises(ValueError, match="too short") as refused:
            await d.set_password("ana", "Sh0rt!", must_change=False)
        seen += said(refused.value)
        await d.set_password("ana", "a good long one 1", must_change=True)
    seen += [repr(e) for e in logs] + every_log_line.lines
    assert slapd.can_bind(tenant.dn("ana"), "a good long one 1")
    for secret in ("Sh0rt!", "a good long one 1"):
        assert not [s for s in seen if secret in s]


async def test_a_directory_nobody_answers_on_is_retried_then_unavailable(
    slapd: Slapd, tenant: Tenant
) -> None:
    PAUSES.clear()
    directory = directory_for(slapd, tenant, ldap_url="ldap://127.0.0.1:9")
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        with pytest.raises(DirectoryUnavailable, match="after 3 attempts"):
            await directory.person("ana")
        with pytest.raises(DirectoryUnavailable, match="nothing was changed"):
            await directory.set_locked("ana", True)  # never sent, so not unknown
    assert time.monotonic() - started < 5
    assert len(PAUSES) == 2  # three attempts, two pauses between them; none for the write
    assert [e["event"] for e in logs].count("ldap.retrying") == 2
    directory.close()


@pytest.fixture
def own_slapd() -> Iterator[Slapd]:
    """A slapd of the test's own, to stop or freeze."""
    yield from running_slapd()


async def test_a_stopped_or_hung_directory_is_a_clear_error_not_a_hang(own_slapd: Slapd) -> None:
    tenant = own_slapd.tenant(ORG, ROLES)
    directory = directory_for(own_slapd, tenant, ldap_timeout=1.0)
    try:
        assert await directory.person("ana") is not None  # a pooled connection now
        own_slapd.pause()
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable, match="after 3 attempts"):
            await directory.person("ana")
        with pytest.raises(DirectoryUnavailable, match="nothing was changed"):
            await directory.add_member("ana", "reports")  # it never got to send it
        assert time.monotonic() - started < 10  # 4 calls of at most a second each
        own_slapd.resume()
        assert "reports" not in (await person(directory, "ana")).groups
        own_slapd.stop()
        with pytest.raises(DirectoryUnavailable, match="after 3 attempts"):
            await directory.person("ana")
    finally:
        own_slapd.resume()
        directory.close()


async def test_a_change_whose_answer_is_lost_is_unknown_and_reads_back(
    slapd: Slapd, tenant: Tenant
) -> None:
    relay = LossyRelay(slapd.port)
    await relay.start()
    directory = directory_for(slapd, tenant, ldap_url=relay.url, ldap_timeout=1.0)
    try:
        relay.losing = True
        with pytest.raises(OutcomeUnknown):
            await directory.add_member("ana", "reports")
        with pytest.raises(OutcomeUnknown):
            await directory.set_password("ana", "a lost new one 9", must_change=False)
        assert relay.lost == 2
        relay.losing = False
        assert "reports" in (await person(directory, "ana")).groups  # it had been made
        assert slapd.can_bind(tenant.dn("ana"), "a lost new one 9")
    finally:
        directory.close()
        await relay.close()


def test_without_slapd_the_tests_skip_except_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_server, "slapd_binary", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        test_server.require_slapd()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="not installed"):
        test_server.require_slapd()
