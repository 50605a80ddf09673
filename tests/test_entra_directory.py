"""Entra behind the desk's ports, over the fake Graph: the honest answer to unlock, the lock
state from the sign-in logs, accounts synced from AD, lookups by object id and UPN, and
password resets by e-mail (the SSPR portal or a temporary password) through a real SMTP
server, once per key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import structlog
from entra_harness import NOW, directory
from servers.graph import FakeGraph, seeded_graph
from servers.smtp import SmtpTestServer, smtp_server

from adapters.entra.passwords import temporary_password
from adapters.mail.smtp import SmtpMailer, SmtpServer
from bot.clock import ManualClock
from bot.ports import ClearsByItself, Unsupported
from bot.store import Store


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with seeded_graph() as running:
        yield running


# --- what Graph cannot do, and where an account is mastered ----------------------------------


async def test_unlock_says_honestly_that_the_lockout_clears_by_itself(fake: FakeGraph) -> None:
    clock = ManualClock(NOW)
    d = directory(fake, clock=clock)
    with pytest.raises(ClearsByItself) as caught:
        await d.set_locked("ana", False)
    assert caught.value.capability == "unlock"
    assert caught.value.minutes >= 1
    assert "by itself" in caught.value.detail
    assert "password reset" in caught.value.detail
    with pytest.raises(Unsupported, match="lock"):
        await d.set_locked("ben", True)
    assert (await d.person("ana")).locked  # type: ignore[union-attr]
    clock.advance(dt.timedelta(minutes=10))  # the lockout window has passed
    assert not (await d.person("ana")).locked  # type: ignore[union-attr]


async def test_unreadable_sign_in_logs_leave_people_readable(fake: FakeGraph) -> None:
    fake.permissions.discard("AuditLog.Read.All")
    ana = await directory(fake).person("ana")
    assert ana is not None
    assert not ana.locked  # unknown, and said in the log, not a failed read


async def test_a_synced_person_is_mastered_by_ad_and_its_writes_are_refused(
    fake: FakeGraph,
) -> None:
    d = directory(fake)
    fake.tenant.sync("ben", sam_account_name="bokafor")
    assert await d.master_of("ana") == "entra"
    assert await d.master_of("bokafor") == "ad"
    assert await d.person("ben") is None  # a synced person goes by their AD username
    assert await d.master_of("nobody") is None
    for call, capability in [(d.set_disabled("bokafor", True), "disable"),
                             (d.set_password("bokafor", "Long-enough-1", must_change=False),
                              "set_password")]:  # fmt: skip
        with pytest.raises(Unsupported) as caught:
            await call
        assert (caught.value.capability, "on-premises" in caught.value.detail) == (capability, True)
    fake.tenant.sync_group("reports")
    with pytest.raises(Unsupported) as refused:
        await d.add_member("ana", "reports")
    assert refused.value.capability == "group_membership"


async def test_a_person_is_found_by_their_cloud_object_id(fake: FakeGraph) -> None:
    d = directory(fake)
    ana = fake.tenant.user("ana")
    assert (await d.person_by_cloud_id(ana["id"])) == await d.person("ana")
    assert await d.person_by_cloud_id("00000000-0000-0000-0000-000000000000") is None
    assert await d.person_by_cloud_id("../groups") is None


async def test_a_person_is_found_by_their_upn_too(fake: FakeGraph) -> None:
    d = directory(fake)
    assert await d.person("ana@contract.test") == await d.person("ana")
    assert await d.person("nobody@contract.test") is None


# --- password resets by e-mail ---------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with smtp_server() as server:
        yield server


def mailer(smtp: SmtpTestServer) -> SmtpMailer:
    return SmtpMailer(SmtpServer.from_url(smtp.url), "desk@contract.test", ManualClock(NOW))


async def test_sspr_mails_the_portal_once_per_key(
    fake: FakeGraph, smtp: SmtpTestServer, store: Store
) -> None:
    d = directory(fake, store=store, mailer=mailer(smtp), entra_sspr_url="https://sspr.test/")
    fake.tenant.methods[fake.tenant.user("ben")["id"]][-1]["emailAddress"] = "ben@home.test"
    sent = await d.send_reset_link("ben", key="case-1:0")
    assert await d.send_reset_link("ben", key="case-1:0") == sent
    assert sent.address == "b•••@home.test"
    [mail] = smtp.boxes.all()
    assert mail.recipients == ("ben@home.test",)
    assert "https://sspr.test/" in mail.body
    assert fake.tenant.passwords == {}  # nothing was changed in the account


async def test_a_temporary_password_goes_only_by_mail_and_once_per_key(
    fake: FakeGraph, smtp: SmtpTestServer, store: Store
) -> None:
    d = directory(fake, store=store, mailer=mailer(smtp), entra_password_reset="temporary")
    sent = await d.send_reset_link("ana", key="case-2:0")
    again = await d.send_reset_link("ana", key="case-2:0")
    profile = fake.tenant.passwords[fake.tenant.user("ana")["id"]]
    [mail] = smtp.boxes.all()
    assert mail.recipients == ("ana@contract.test",)  # her secondary address on record
    assert profile["forceChangePasswordNextSignIn"] is True
    assert profile["password"] in mail.body
    assert profile["password"] not in repr(sent) + repr(again) + repr(d)
    assert again == sent


async def test_each_temporary_password_is_a_message_of_its_own(
    fake: FakeGraph, smtp: SmtpTestServer, store: Store
) -> None:
    d = directory(fake, store=store, mailer=mailer(smtp), entra_password_reset="temporary")
    with structlog.testing.capture_logs() as logs:
        await d.send_reset_link("ana")
        await d.send_reset_link("ana")  # no key: another request, another password
    first, second = smtp.boxes.all()
    assert first.message["Message-ID"] != second.message["Message-ID"]
    current = fake.tenant.passwords[fake.tenant.user("ana")["id"]]["password"]
    assert current in second.body
    assert current not in first.body
    assert current not in repr(logs)


def test_temporary_passwords_are_strong_and_different() -> None:
    made = {temporary_password() for _ in range(20)}
    assert len(made) == 20
    for password in made:
        assert len(password) >= 16
        assert any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password)


async def test_a_password_the_policy_refuses_is_a_value_error_with_the_reason(
    fake: FakeGraph,
) -> None:
    d = directory(fake)
    with pytest.raises(ValueError, match="complexity") as caught:
        await d.set_password("ben", "short", must_change=False)
    assert "short" not in str(caught.value)
    await d.set_password("ben", "a much longer one", must_change=True)
    profile = fake.tenant.passwords[fake.tenant.user("ben")["id"]]
    assert profile == {"password": "a much longer one", "forceChangePasswordNextSignIn": True}
