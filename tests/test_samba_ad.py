"""The AD operations of `adapters.directory.ad_ops` against a real Samba AD DC, done by the
desk's least-privilege service account: lockout and unlock, password resets over LDAPS and the
domain's policy refusing one, disabling, group members, privileged people, and what the
account may not do. Each test seeds its own people."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import ldap3
import pytest
from servers.samba import DOMAIN_ADMINS_DN, Group, Person, SambaDC

from adapters.directory import ad_ops
from bot.settings_identity import ATTRIBUTE_KEYS

Connect = Callable[..., ldap3.Connection]


@pytest.fixture
def connect(samba_dc: SambaDC) -> Iterator[Connect]:
    """Bound connections (the service account's unless a DN and password are given), all
    unbound when the test ends however it ends."""
    opened: list[ldap3.Connection] = []

    def open_(dn: str | None = None, password: str | None = None, **options: Any) -> Any:
        conn = samba_dc.connect(dn or samba_dc.service_dn,
                                password or samba_dc.service_password, **options)  # fmt: skip
        opened.append(conn)
        return conn

    yield open_
    for conn in opened:
        conn.unbind()


@pytest.fixture
def svc(connect: Connect) -> ldap3.Connection:
    return connect()


def test_three_bad_binds_lock_a_person_and_unlock_lets_them_in(
    samba_dc: SambaDC, connect: Connect, svc: ldap3.Connection
) -> None:
    ann = Person("lock-ann", "Ann Lock")
    samba_dc.seed([ann])
    assert [samba_dc.bind_refusal(ann.dn, "Wrong-Pass-0") for _ in range(3)] == ["52e"] * 3
    assert samba_dc.bind_refusal(ann.dn, ann.password) == "775"  # locked out, right password

    state = samba_dc.read(ann.dn, *ad_ops.STATE_ATTRIBUTES)
    now = datetime.now(UTC)
    duration = ad_ops.lockout_duration(svc, samba_dc.base_dn)
    assert duration == samba_dc.lockout_duration
    assert int(state["lockoutTime"][0]) > 0
    assert ad_ops.is_locked(state, now, duration)
    by_time = {"lockoutTime": state["lockoutTime"]}  # a DC without the computed attribute
    assert ad_ops.is_locked(by_time, now, duration)
    assert ad_ops.is_locked(by_time, now + timedelta(days=365), None)
    assert not ad_ops.is_locked(by_time, now + duration + timedelta(seconds=1), duration)

    typed = connect(schema=True)
    typed.search(ann.dn, "(objectClass=*)", ldap3.BASE, attributes=["lockoutTime"])
    formatted = typed.response[0]["attributes"]  # as ldap3 types them, knowing the schema
    assert isinstance(formatted["lockoutTime"], datetime)
    assert ad_ops.is_locked(formatted, now, duration)

    ad_ops.unlock(svc, ann.dn)
    assert not ad_ops.is_locked(samba_dc.read(ann.dn, *ad_ops.STATE_ATTRIBUTES), now, duration)
    assert samba_dc.bind_refusal(ann.dn, ann.password) is None


def test_a_reset_password_works_and_the_old_one_stops(
    samba_dc: SambaDC, svc: ldap3.Connection
) -> None:
    bo = Person("reset-bo", "Bo Reset")
    samba_dc.seed([bo])
    ad_ops.set_password(svc, bo.dn, "Fresh-Pass-99", must_change=False)
    assert samba_dc.bind_refusal(bo.dn, "Fresh-Pass-99") is None
    assert samba_dc.bind_refusal(bo.dn, bo.password) == "52e"
    assert int(samba_dc.read(bo.dn, "pwdLastSet")["pwdLastSet"][0]) > 0


def test_the_domain_policy_refuses_a_short_password_with_a_plain_reason(
    samba_dc: SambaDC, svc: ldap3.Connection
) -> None:
    cy = Person("short-cy", "Cy Short")
    samba_dc.seed([cy])
    with pytest.raises(ValueError, match=r"^the new password does not meet the domain's"):
        ad_ops.set_password(svc, cy.dn, "short", must_change=False)
    assert samba_dc.bind_refusal(cy.dn, cy.password) is None


def test_must_change_sets_pwdlastset_to_zero(samba_dc: SambaDC, svc: ldap3.Connection) -> None:
    di = Person("change-di", "Di Change")
    samba_dc.seed([di])
    ad_ops.set_password(svc, di.dn, "Temporary-Pass-7", must_change=True)
    assert samba_dc.read(di.dn, "pwdLastSet")["pwdLastSet"] == ["0"]
    assert samba_dc.bind_refusal(di.dn, "Temporary-Pass-7") == "773"  # must change first


def test_passwords_go_over_an_encrypted_connection_only(
    samba_dc: SambaDC, connect: Connect
) -> None:
    ed = Person("tls-ed", "Ed Tls")
    samba_dc.seed([ed])
    plain = ldap3.Connection(samba_dc.server(ldaps=False))
    with pytest.raises(ad_ops.InsecureConnection):
        ad_ops.set_password(plain, ed.dn, "Never-Sent-1", must_change=False)
    assert not plain.bound  # refused before a byte was sent

    starttls = connect(ldaps=False)
    assert starttls.tls_started
    ad_ops.set_password(starttls, ed.dn, "Over-Starttls-1", must_change=False)
    assert samba_dc.bind_refusal(ed.dn, "Over-Starttls-1") is None


def test_disabling_stops_binds_and_enabling_restores_them_keeping_other_bits(
    samba_dc: SambaDC, connect: Connect
) -> None:
    fay = Person("disable-fay", "Fay Disable")
    samba_dc.seed([fay])
    dont_expire = 0x10000
    samba_dc.change(fay.dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [0x200 | dont_expire])]})
    svc = connect(client_strategy=ldap3.SAFE_SYNC)

    ad_ops.set_disabled(svc, fay.dn, True)
    state = samba_dc.read(fay.dn, "userAccountControl")
    assert int(state["userAccountControl"][0]) == 0x200 | dont_expire | ad_ops.ACCOUNTDISABLE
    assert ad_ops.is_disabled(state)
    assert samba_dc.bind_refusal(fay.dn, fay.password) == "533"
    ad_ops.set_disabled(svc, fay.dn, True)  # already so: nothing written

    ad_ops.set_disabled(svc, fay.dn, False)
    state = samba_dc.read(fay.dn, "userAccountControl")
    assert int(state["userAccountControl"][0]) == 0x200 | dont_expire
    assert not ad_ops.is_disabled(state)
    assert samba_dc.bind_refusal(fay.dn, fay.password) is None


def test_group_members_show_in_memberof_and_repeats_are_no_error(
    samba_dc: SambaDC, connect: Connect
) -> None:
    gus, vpn = Person("member-gus", "Gus Member"), Group("vpn-users")
    samba_dc.seed([gus], [vpn])
    svc = connect(raise_exceptions=True)

    for _ in range(2):
        ad_ops.add_member(svc, vpn.dn, gus.dn)
        assert samba_dc.read(gus.dn, "memberOf")["memberOf"] == [vpn.dn]
    for _ in range(2):
        ad_ops.remove_member(svc, vpn.dn, gus.dn)
        assert samba_dc.read(gus.dn, "memberOf")["memberOf"] == []


def test_a_domain_admin_is_privileged(samba_dc: SambaDC) -> None:
    # Samba runs no SDProp: `admin=True` sets adminCount=1 itself, as AD would within the hour.
    hal = Person("admin-hal", "Hal Admin", admin=True)
    ivy, joe = Person("plain-ivy", "Ivy Plain"), Person("new-admin-joe", "Joe New")
    samba_dc.seed([hal, ivy, joe])
    # A Domain Admin since a moment ago, without adminCount (AD's SDProp has not run yet).
    samba_dc.change(DOMAIN_ADMINS_DN, {"member": [(ldap3.MODIFY_ADD, [joe.dn])]})

    assert samba_dc.read(hal.dn, "adminCount")["adminCount"] == ["1"]
    assert ad_ops.is_privileged(samba_dc.read(hal.dn, "adminCount"))
    assert ad_ops.is_privileged(samba_dc.read(joe.dn, "adminCount", "tokenGroups"))
    assert not ad_ops.is_privileged(samba_dc.read(ivy.dn, "adminCount", "tokenGroups"))


def test_the_service_account_can_do_no_more_than_it_was_delegated(
    samba_dc: SambaDC, connect: Connect, svc: ldap3.Connection
) -> None:
    kim = Person("limits-kim", "Kim Limits", title="Analyst")
    lee = Person("limits-lee", "Lee Limits")
    samba_dc.seed([kim, lee])
    lee_conn = connect(lee.dn, lee.password)  # anyone else: none of it
    with pytest.raises(PermissionError):
        ad_ops.set_password(lee_conn, kim.dn, "Taken-Over-1", must_change=False)
    with pytest.raises(PermissionError):
        ad_ops.set_disabled(lee_conn, kim.dn, True)

    with pytest.raises(PermissionError):
        ad_ops.add_member(svc, DOMAIN_ADMINS_DN, samba_dc.service_dn)
    with pytest.raises(PermissionError):
        ad_ops.set_password(svc, samba_dc.admin_dn, "Taken-Over-1", must_change=False)
    with pytest.raises(PermissionError):
        ad_ops.set_disabled(svc, samba_dc.admin_dn, True)
    assert not svc.modify(kim.dn, {"title": [(ldap3.MODIFY_REPLACE, ["Boss"])]})
    assert svc.result["description"] == "insufficientAccessRights"
    assert samba_dc.bind_refusal(samba_dc.admin_dn, samba_dc.admin_password) is None
    with pytest.raises(LookupError):
        ad_ops.unlock(svc, f"CN=Nobody,{samba_dc.people_dn}")


def test_values_as_ldap3_formats_them_with_the_schema_loaded() -> None:
    locked_at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    formatted = {"lockoutTime": locked_at, "userAccountControl": 514, "adminCount": 1}
    assert ad_ops.is_locked(formatted, locked_at + timedelta(minutes=5), timedelta(minutes=10))
    assert not ad_ops.is_locked(formatted, locked_at + timedelta(minutes=11), timedelta(minutes=10))
    never = {"lockoutTime": datetime(1601, 1, 1, tzinfo=UTC)}
    assert not ad_ops.is_locked(never, locked_at, None)
    computed = {"lockoutTime": locked_at, "msDS-User-Account-Control-Computed": 0}
    assert not ad_ops.is_locked(computed, locked_at, None)  # the DC's word wins
    assert ad_ops.is_disabled(formatted)
    assert ad_ops.is_privileged(formatted)
    assert not ad_ops.is_disabled({})
    assert not ad_ops.is_privileged({})

    assert ad_ops.filetime_to_datetime(ad_ops.datetime_to_filetime(locked_at)) == locked_at
    assert ad_ops.filetime_to_datetime(0) is None
    assert ad_ops.filetime_to_datetime(2**63 - 1) is None


def test_the_ad_defaults_find_a_seeded_person_and_group(
    samba_dc: SambaDC, svc: ldap3.Connection
) -> None:
    mia = Person("defaults-mia", "Mia Manager")
    noa = Person("defaults-noa", "Noa Defaults", mail="noa@itdesk.test",
                 other_mailbox=("noa@home.example",), mobile="+44 7700 900123",
                 manager=mia.username, title="Analyst", department="Finance")  # fmt: skip
    samba_dc.seed([mia, noa], [Group("finance-share", (noa.username,))])
    assert set(ad_ops.ATTRIBUTES) == ATTRIBUTE_KEYS

    who = f"(&{ad_ops.PEOPLE_FILTER}({ad_ops.ATTRIBUTES['username']}={noa.username}))"
    svc.search(samba_dc.base_dn, who, attributes=list(ad_ops.ATTRIBUTES.values()))
    # A search from the domain's root also answers with referrals (searchResRef) to the
    # other partitions: only searchResEntry items are entries.
    [entry] = [r for r in svc.response if r["type"] == "searchResEntry"]
    found = {key: entry["attributes"][attr] for key, attr in ad_ops.ATTRIBUTES.items()}
    assert found == {
        "username": [noa.username], "email": [noa.mail],
        "secondary_email": ["noa@home.example"], "mobile": [noa.mobile],
        "manager": [mia.dn], "display_name": [noa.name], "title": ["Analyst"],
        "department": ["Finance"],
    }  # fmt: skip
    group = f"(&{ad_ops.GROUP_FILTER}({ad_ops.GROUP_ID}=finance-share))"
    svc.search(samba_dc.base_dn, group, attributes=["member"])
    entries = [r for r in svc.response if r["type"] == "searchResEntry"]
    assert [e["attributes"]["member"] for e in entries] == [[noa.dn]]
