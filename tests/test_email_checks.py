"""Mail over SMTP, against a real server (aiosmtpd, started by the test): AUTH over STARTTLS,
implicit TLS, no password to a server without TLS, a certificate the desk does not trust
refused, the password never shown; a server down, busy or hung tried a bounded number of
times, then named."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from servers.smtp import SmtpTestServer, closed_port, silent_server, smtp_server

from adapters.mail.message import Mail
from adapters.mail.smtp import MailUndelivered, SmtpMailer, SmtpServer
from bot.clock import ManualClock

T0 = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)
CODE = "482913"
LOGIN = ("itdesk", "pa55:w/rd%s3cret")  # characters a URL must escape
SENDER = "IT desk <itdesk@initech.test>"


class Pauses(list[float]):
    """The pauses a mailer asked for between attempts, taken at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def server() -> Iterator[SmtpTestServer]:
    with smtp_server(login=LOGIN, starttls=True) as running:
        yield running


@pytest.fixture
def pauses() -> Pauses:
    return Pauses()


def mailer_for(server: SmtpTestServer, clock: ManualClock, pauses: Pauses, **kw: Any) -> SmtpMailer:
    return SmtpMailer(SmtpServer.from_url(server.url), SENDER, clock, ca_file=server.ca_file,
                      sleep=pauses, **kw)  # fmt: skip


@pytest.fixture
def mailer(server: SmtpTestServer, clock: ManualClock, pauses: Pauses) -> SmtpMailer:
    return mailer_for(server, clock, pauses)


# --- the connection --------------------------------------------------------------------------


def test_the_password_is_never_shown(server: SmtpTestServer, clock: ManualClock) -> None:
    parsed = SmtpServer.from_url(server.url)
    assert parsed.password is not None
    assert parsed.password.get_secret_value() == LOGIN[1]  # the URL's escapes undone
    mailer = SmtpMailer(parsed, SENDER, clock)
    for shown in (repr(parsed), str(parsed), repr(mailer), repr(Mail("a@b.c", "s", CODE, "k"))):
        assert LOGIN[1] not in shown
        assert CODE not in shown
    with pytest.raises(ValueError, match="SMTP URL must be") as bad:
        SmtpServer.from_url(f"http://itdesk:{LOGIN[1]}@mail.test")
    assert LOGIN[1] not in str(bad.value)
    assert SmtpServer.from_url("smtps://mail.test") == SmtpServer("mail.test", 465, True)
    assert SmtpServer.from_url("smtp://mail.test").port == 587


async def test_auth_over_starttls_against_the_real_server(
    mailer: SmtpMailer, server: SmtpTestServer
) -> None:
    await mailer.send(Mail("ana@initech.test", "Hello", "Body", "k-1"))
    (mail,) = server.boxes.all()
    assert (mail.tls, mail.authenticated) == (True, True)
    assert mail.sender == "itdesk@initech.test"


async def test_implicit_tls_without_auth(clock: ManualClock, pauses: Pauses) -> None:
    with smtp_server(implicit_tls=True) as server:
        assert server.url.startswith("smtps://")
        await mailer_for(server, clock, pauses).send(Mail("ana@initech.test", "Hi", "B", "k-1"))
        (mail,) = server.boxes.all()
        assert (mail.tls, mail.authenticated) == (True, False)


async def test_a_wrong_password_is_refused_at_once(
    server: SmtpTestServer, clock: ManualClock, pauses: Pauses, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-password"
    url = dataclasses.replace(server, login=(LOGIN[0], wrong)).url
    mailer = SmtpMailer(SmtpServer.from_url(url), SENDER, clock, ca_file=server.ca_file,
                        sleep=pauses)  # fmt: skip
    with pytest.raises(MailUndelivered) as failed:
        await mailer.send(Mail("ana@initech.test", "Hi", "B", "k-1"))
    assert not failed.value.transient
    assert "refused" in str(failed.value)
    assert pauses == []  # not retried
    assert server.boxes.all() == []
    assert wrong not in str(failed.value) + caplog.text


async def test_no_password_goes_to_a_server_that_offers_no_tls(
    clock: ManualClock, pauses: Pauses
) -> None:
    with smtp_server() as plain:
        url = plain.url.replace("smtp://", "smtp://itdesk:secret@")
        mailer = SmtpMailer(SmtpServer.from_url(url), SENDER, clock, sleep=pauses)
        with pytest.raises(MailUndelivered, match="offered no STARTTLS") as failed:
            await mailer.send(Mail("ana@initech.test", "Hi", "B", "k-1"))
        assert not failed.value.transient
        assert plain.boxes.all() == []


async def test_a_certificate_the_desk_does_not_trust_is_refused(
    server: SmtpTestServer, clock: ManualClock, pauses: Pauses
) -> None:
    mailer = SmtpMailer(SmtpServer.from_url(server.url), SENDER, clock, sleep=pauses)
    with pytest.raises(MailUndelivered) as failed:
        await mailer.send(Mail("ana@initech.test", "Hi", "B", "k-1"))
    assert not failed.value.transient
    assert "certificate" in str(failed.value)
    assert pauses == []  # trying again would not make it trusted
    assert server.boxes.all() == []


async def test_a_server_that_is_down_is_tried_a_few_times_then_named(
    clock: ManualClock, pauses: Pauses
) -> None:
    port = closed_port()
    down = SmtpMailer(SmtpServer("127.0.0.1", port, False), SENDER, clock, sleep=pauses)
    with pytest.raises(MailUndelivered) as failed:
        await down.send(Mail("peter.lindgren@home.test", "Hi", "B", "k-1"))
    assert failed.value.transient
    assert pauses == [1.0, 2.0]  # three attempts, the pauses between them growing
    said = str(failed.value)
    assert f"127.0.0.1:{port}" in said
    assert "after 3 attempts" in said
    assert "p•••@home.test" in said
    assert "peter.lindgren" not in said


async def test_a_busy_server_is_tried_again_and_an_unknown_mailbox_is_not(
    clock: ManualClock, pauses: Pauses
) -> None:
    with smtp_server(busy=1, mailboxes=["ana@initech.test"]) as server:
        mailer = mailer_for(server, clock, pauses)
        await mailer.send(Mail("ana@initech.test", "Hi", "B", "k-1"))
        assert pauses == [1.0]  # "451 try again later", then delivered
        assert [m.recipients for m in server.boxes.all()] == [("ana@initech.test",)]
        with pytest.raises(MailUndelivered) as refused:
            await mailer.send(Mail("gone@initech.test", "Hi", "B", "k-2"))
    assert not refused.value.transient
    assert pauses == [1.0]  # a 550 is final
    assert "550 recipient refused" in str(refused.value)
    assert "gone@initech.test" not in str(refused.value)


async def test_a_server_that_never_answers_times_out(clock: ManualClock, pauses: Pauses) -> None:
    with silent_server() as port:
        hung = SmtpMailer(SmtpServer("127.0.0.1", port, False), SENDER, clock, timeout=0.2,
                          attempts=2, sleep=pauses)  # fmt: skip
        started = time.monotonic()
        with pytest.raises(MailUndelivered) as failed:
            await hung.send(Mail("ana@initech.test", "Hi", "B", "k-1"))
    assert time.monotonic() - started < 5
    assert failed.value.transient
    assert pauses == [1.0]
