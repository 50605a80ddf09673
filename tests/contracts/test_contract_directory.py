"""The `Directory` contract: reads, lookups by e-mail, role and manager, writes read back,
idempotent creates, NotFound and Conflict, and capabilities a directory may lack."""

from __future__ import annotations

import re

import pytest
from backends import ORG, Backend, can

from bot.models import Person
from bot.ports import ConflictError, LinkSent, NotFoundError, Unsupported


async def person(backend: Backend, username: str) -> Person:
    found = await backend.directory.person(username)
    assert found is not None, f"{backend.name} has no {username}"
    return found


# --- reads ----------------------------------------------------------------------------------


async def test_people_and_groups_read_as_seeded(backend: Backend) -> None:
    d = backend.directory
    for seeded in ORG.people():
        assert await d.person(seeded.username) == backend.recorded(seeded)
    assert await d.person("nobody") is None
    assert [p.username for p in await d.people()] == sorted(ORG.users)
    for group in ORG.group_list():
        assert await d.group(group.id) == group
    assert await d.group("no-such-group") is None
    assert [g.id for g in await d.groups()] == sorted(ORG.groups)


async def test_a_person_is_found_by_email_whatever_its_case(backend: Backend) -> None:
    ana = await person(backend, "ana")
    assert await backend.directory.person_by_email(" ANA@Contract.test ") == ana
    assert await backend.directory.person_by_email("nobody@contract.test") is None


async def test_people_are_found_by_role_disabled_ones_included(backend: Backend) -> None:
    d = backend.directory
    assert [p.username for p in await d.people_with_role("security")] == ["ida", "mo"]
    assert [p.username for p in await d.people_with_role("hr")] == ["mo"]
    assert [p.username for p in await d.people_with_role("oncall")] == ["ben"]
    assert await d.people_with_role("admin") == []
    with pytest.raises(ValueError, match="wizard"):
        await d.people_with_role("wizard")


async def test_people_are_found_by_manager(backend: Backend) -> None:
    d = backend.directory
    assert [p.username for p in await d.reports_of("mo")] == ["ana", "ben", "ida"]
    assert await d.reports_of("ana") == []
    assert await d.reports_of("nobody") == []


async def test_addresses_are_masked_and_only_for_registered_factors(backend: Backend) -> None:
    d = backend.directory
    phone = await d.factor_address("ana", "sms")
    assert phone is not None
    assert not re.search(r"\d{3}", phone), phone  # never the number itself
    for factor in ("email", "totp"):
        if factor not in backend.seeded("ana").factors:
            assert await d.factor_address("ana", factor) is None  # not registered
    assert await d.factor_address("nobody", "sms") is None
    email = await d.factor_address("ben", "email")
    assert email is not None
    assert "@" in email
    assert not email.startswith("ben@")
    assert await d.recovery_address("ana") is not None
    assert await d.recovery_address("nobody") is None


# --- writes, read back ------------------------------------------------------------------------


async def test_unlock_and_lock_read_back(backend: Backend) -> None:
    d = backend.directory
    if await can(backend, "unlock", d.set_locked("ana", False)):
        assert not (await person(backend, "ana")).locked
    else:
        assert (await person(backend, "ana")).locked
    if await can(backend, "lock", d.set_locked("ben", True)):
        assert (await person(backend, "ben")).locked
    else:
        assert not (await person(backend, "ben")).locked


async def test_disable_and_enable_read_back(backend: Backend) -> None:
    d = backend.directory
    if await can(backend, "disable", d.set_disabled("ana", True)):
        assert (await person(backend, "ana")).disabled
    else:
        assert not (await person(backend, "ana")).disabled
    if await can(backend, "enable", d.set_disabled("ida", False)):
        assert not (await person(backend, "ida")).disabled
    else:
        assert (await person(backend, "ida")).disabled


async def test_membership_changes_read_back_and_repeat_harmlessly(backend: Backend) -> None:
    d = backend.directory
    if not await can(backend, "group_membership", d.add_member("ana", "reports")):
        assert "reports" not in (await person(backend, "ana")).groups
        return
    await d.add_member("ana", "reports")
    assert (await person(backend, "ana")).groups == ("staff", "reports")
    await d.remove_member("ana", "staff")
    await d.remove_member("ana", "staff")
    assert (await person(backend, "ana")).groups == ("reports",)


async def test_sessions_are_counted_and_revoked(backend: Backend) -> None:
    d = backend.directory
    counted = "session_count" not in backend.lacks
    if counted:
        assert await d.sessions("ben") > 0
    else:
        with pytest.raises(Unsupported) as caught:
            await d.sessions("ben")
        assert caught.value.capability == "session_count"
    if "revoke_sessions" in backend.lacks:
        await can(backend, "revoke_sessions", d.revoke_sessions("ben"))
        if counted:
            assert await d.sessions("ben") > 0
        return
    ended = await d.revoke_sessions("ben")
    if counted:
        assert ended is not None
        assert ended > 0
        assert await d.sessions("ben") == 0
        assert await d.revoke_sessions("ben") == 0
    else:
        assert ended is None  # revoked, and no count is claimed


async def test_factors_reset_read_back(backend: Backend) -> None:
    if await can(backend, "reset_factors", backend.directory.reset_factors("mo")):
        assert (await person(backend, "mo")).factors == ()
        assert await backend.directory.factor_address("mo", "email") is None
    else:
        assert (await person(backend, "mo")).factors == backend.seeded("mo").factors


NEW = Person(username="zed", name="Zed Ito", email="zed@contract.test", manager="mo",
             groups=("staff",))  # fmt: skip


async def test_create_person_is_idempotent_and_found_by_every_lookup(backend: Backend) -> None:
    d = backend.directory
    if not await can(backend, "create_person", d.create_person(NEW)):
        assert await d.person("zed") is None
        return
    await d.create_person(NEW)  # a retry
    assert await d.person("zed") == NEW
    assert await d.person_by_email("zed@contract.test") == NEW
    assert NEW in await d.reports_of("mo")
    assert "zed" in [p.username for p in await d.people()]


async def test_create_person_refuses_conflicts_and_changes_nothing(backend: Backend) -> None:
    d = backend.directory
    if "create_person" in backend.lacks:
        await can(backend, "create_person", d.create_person(NEW))
        return
    with pytest.raises(ConflictError):
        await d.create_person(NEW.model_copy(update={"username": "ana"}))  # a taken username
    with pytest.raises(ConflictError):
        await d.create_person(NEW.model_copy(update={"email": "ben@contract.test"}))
    with pytest.raises(NotFoundError):
        await d.create_person(NEW.model_copy(update={"manager": "ghost"}))
    assert await d.person("zed") is None
    assert (await person(backend, "ana")).name == "Ana Silva"
    assert (await d.person_by_email("ben@contract.test")) == await person(backend, "ben")


WRITES = ["set_locked", "set_disabled", "add_member", "revoke_sessions", "reset_factors",
          "sessions", "set_password"]  # fmt: skip


@pytest.mark.parametrize("write", WRITES)
async def test_writes_to_someone_unknown_are_not_found(backend: Backend, write: str) -> None:
    d = backend.directory
    calls = {
        "set_locked": lambda: d.set_locked("nobody", True),
        "set_disabled": lambda: d.set_disabled("nobody", True),
        "add_member": lambda: d.add_member("nobody", "staff"),
        "revoke_sessions": lambda: d.revoke_sessions("nobody"),
        "reset_factors": lambda: d.reset_factors("nobody"),
        "sessions": lambda: d.sessions("nobody"),
        "set_password": lambda: d.set_password("nobody", "Correct-Horse-9", must_change=False),
    }
    with pytest.raises((NotFoundError, Unsupported)) as caught:
        await calls[write]()
    # a backend that lacks the write says so before looking the person up
    assert isinstance(caught.value, NotFoundError) or caught.value.capability in backend.lacks


async def test_a_membership_of_an_unknown_group_is_not_found(backend: Backend) -> None:
    with pytest.raises((NotFoundError, Unsupported)) as caught:
        await backend.directory.add_member("ana", "no-such-group")
    assert isinstance(caught.value, NotFoundError) or "group_membership" in backend.lacks
    assert (await person(backend, "ana")).groups == ("staff",)


# --- links ------------------------------------------------------------------------------------


async def test_links_say_where_they_went_and_one_goes_per_key(backend: Backend) -> None:
    d = backend.directory
    recovery = await d.recovery_address("ben")
    if "reset_link" not in backend.lacks:
        sent = await d.send_reset_link("ben", key="case-1:0:reset_link")
        assert sent == LinkSent(address=recovery or "")
        assert await d.send_reset_link("ben", key="case-1:0:reset_link") == sent
        with pytest.raises(NotFoundError):
            await d.send_reset_link("nobody")
    else:
        await can(backend, "reset_link", d.send_reset_link("ben"))
    if await can(backend, "enrolment_link", d.send_enrolment_link("ben", key="case-2:0")):
        enrol = await d.send_enrolment_link("ben", key="case-2:0")
        assert "@" in enrol.address  # after an MFA reset the phone may be what was lost


# --- passwords --------------------------------------------------------------------------------


async def test_a_password_is_set_and_a_refused_one_says_why_without_repeating_it(
    backend: Backend,
) -> None:
    d = backend.directory
    first = d.set_password("ben", "correct horse battery", must_change=False)
    if not await can(backend, "set_password", first):
        return
    with pytest.raises(ValueError, match=r"\w") as caught:  # every policy refuses 3 characters
        await d.set_password("ben", "abc", must_change=True)
    assert "abc" not in str(caught.value)
    await d.set_password("ben", "staple battery horse", must_change=True)
