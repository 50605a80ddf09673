"""Codes, links and change notices by e-mail, through a real SMTP server (aiosmtpd, started by
the test): where a code goes (the secondary address on record first, else the primary; the
order configurable), once per request key; the code in the mail and nowhere else (logs,
state, exceptions), the password nowhere at all; AUTH over STARTTLS and implicit TLS; a
server down or hung tried a bounded number of times, then named; notices at every address
once; withdrawal and expiry; and Peter, locked out, unlocked by a code read from his mail."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import servers.smtp
import structlog
from auditing import AUDIT_KEY
from harness import ORG, Conversation
from servers.smtp import SmtpTestServer, closed_port, silent_server, smtp_server

from adapters.chat.recording import RecordingChat
from adapters.checks.email import EmailChecks
from adapters.mail.contacts import first_address
from adapters.mail.message import KEY_HEADER, REF_HEADER, Mail, Mailer
from adapters.mail.smtp import MailUndelivered, SmtpMailer, SmtpServer
from adapters.notify.email import EmailOutbox
from bot import texts
from bot.clock import ManualClock
from bot.knowledge import KnowledgeBase
from bot.masking import mask_email, mask_phone
from bot.models import FactorKind, Person
from bot.ports import CheckRequest, ContactPoints, Directory, NotFoundError, OutboxItem, Unsupported
from bot.state.audit import AuditLog
from bot.store import Store
from bot.wiring import build_desk
from bot.world import SandboxWorld
from verification.codes import codes_in
from verification.notify import notify_change

T0 = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)
CODE = "482913"
LOGIN = ("itdesk", "pa55:w/rd%s3cret")  # characters a URL must escape
SENDER = "IT desk <itdesk@initech.test>"

PETER = ContactPoints(
    email="peter@initech.test", secondary_email="peter.lindgren@home.test", mobile="+44 7700 900123"
)
BOOK = {
    "peter": PETER,
    "ana": ContactPoints(email="ana@initech.test"),
    "mo": ContactPoints(email="mo@initech.test", secondary_email="MO@initech.test "),
}


class Book:
    """Addresses on record and the directory's record of each person, from one table: each
    has the e-mail factor (and SMS with a mobile), as a directory with contact points says."""

    def __init__(self, points: dict[str, ContactPoints], *, factors: FactorKind | None = "email"):
        self._points = points
        self._factors: tuple[FactorKind, ...] = (factors,) if factors else ()

    async def contact_points(self, username: str) -> ContactPoints | None:
        return self._points.get(username)

    async def person(self, username: str) -> Person | None:
        points = self._points.get(username)
        if points is None:
            return None
        sms: tuple[FactorKind, ...] = ("sms",) if points.mobile else ()
        return Person(username=username, name=username.title(), email=points.email,
                      factors=self._factors + sms)  # fmt: skip

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        points = self._points.get(username)
        if points is None:
            return None
        if factor == "sms":
            return mask_phone(points.mobile) if points.mobile else None
        address = first_address(points, ("secondary", "primary"))
        return mask_email(address) if factor == "email" and address else None

    async def recovery_address(self, username: str) -> str | None:
        return await self.factor_address(username, "email")


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


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                            ("", pytest.skip.Exception)])  # fmt: skip
def test_a_mail_server_that_cannot_start_fails_the_test_in_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    def cannot_bind(self: object) -> None:
        raise OSError("address in use")

    monkeypatch.setattr(servers.smtp.Controller, "start", cannot_bind)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="did not start"), smtp_server():
        pass


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


# --- where a code goes -----------------------------------------------------------------------


def email_checks(store: Store, clock: ManualClock, mailer: Mailer, **kw: Any) -> EmailChecks:
    book = Book(BOOK)
    return EmailChecks(store, clock, book, mailer, contacts=book, **kw)


@pytest.fixture
def checks(store: Store, clock: ManualClock, mailer: SmtpMailer) -> EmailChecks:
    return email_checks(store, clock, mailer)


def request(key: str = "su-1", username: str = "peter", **fields: Any) -> CheckRequest:
    fields.setdefault("factor", "email")
    fields.setdefault("code", CODE)
    fields.setdefault("message", texts.say("step_up.code_message", lead="Your code", minutes=10))
    return CheckRequest(key=key, username=username, expires_at=T0 + timedelta(minutes=10),
                        **fields)  # fmt: skip


async def test_a_code_goes_to_the_secondary_address_on_record(
    checks: EmailChecks, server: SmtpTestServer
) -> None:
    issued = await checks.issue(request())
    (mail,) = server.boxes.all()
    assert mail.recipients == ("peter.lindgren@home.test",)
    assert (issued.kind, issued.verifier, issued.address) == ("code", "desk", "p•••@home.test")
    assert issued.expires_at == T0 + timedelta(minutes=10)
    assert f"code for the IT desk: {CODE}. Valid for 10 minutes" in mail.body
    message = mail.message
    assert (message["From"], message["To"]) == (SENDER, "peter.lindgren@home.test")
    assert message["Subject"] == texts.say("email.subject_code")
    assert (message[KEY_HEADER], message[REF_HEADER]) == ("su-1", issued.id)
    assert message["Message-ID"].endswith("@initech.test>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    assert CODE not in headers


async def test_without_a_secondary_address_the_code_goes_to_the_primary(
    checks: EmailChecks, server: SmtpTestServer
) -> None:
    issued = await checks.issue(request(username="ana"))
    assert [m.recipients for m in server.boxes.all()] == [("ana@initech.test",)]
    assert issued.address == "a•••@initech.test"


async def test_the_order_of_addresses_is_the_settings(
    store: Store, clock: ManualClock, mailer: SmtpMailer, server: SmtpTestServer
) -> None:
    primary_first = email_checks(store, clock, mailer, order=("primary", "secondary"))
    await primary_first.issue(request("su-1"))
    assert server.boxes.all()[-1].recipients == ("peter@initech.test",)
    secondary_only = email_checks(store, clock, mailer, order=("secondary",))
    with pytest.raises(NotFoundError) as caught:
        await secondary_only.issue(request("su-2", username="ana"))
    assert (caught.value.kind, caught.value.key) == ("email", "ana")
    with pytest.raises(ValueError, match="secondary and/or primary"):
        email_checks(store, clock, mailer, order=("secondary", "mobile"))
    assert len(server.boxes.all()) == 1


async def test_the_same_key_is_the_same_check_and_sends_once(
    checks: EmailChecks, server: SmtpTestServer
) -> None:
    first = await checks.issue(request())
    assert await checks.issue(request()) == first
    assert len(server.boxes.all()) == 1
    other = await checks.issue(request("su-2"))
    assert other.id != first.id
    assert len(server.boxes.all()) == 2


async def test_only_e_mail_codes_the_desk_minted_for_someone_registered(
    store: Store, clock: ManualClock, checks: EmailChecks, mailer: SmtpMailer,
    server: SmtpTestServer,
) -> None:  # fmt: skip
    for factor in ("sms", "push", "totp"):
        with pytest.raises(Unsupported) as caught:
            await checks.issue(request(factor=factor))
        assert caught.value.capability == factor
    with pytest.raises(ValueError, match="where the code goes"):
        await checks.issue(request(message="Your code."))
    with pytest.raises(ValueError, match="the request has none"):
        await checks.issue(request(code=None))
    with pytest.raises(NotFoundError):
        await checks.issue(request(username="nobody"))
    unregistered = Book(BOOK, factors=None)
    bare = EmailChecks(store, clock, unregistered, mailer, contacts=unregistered)
    with pytest.raises(NotFoundError) as caught_factor:
        await bare.issue(request(username="ana"))
    assert caught_factor.value.kind == "factor"
    assert server.boxes.all() == []
    assert await checks.issue(request()) is not None  # the refusals left nothing under the key


async def test_a_send_that_failed_leaves_no_check_so_the_request_goes_out_later(
    store: Store, clock: ManualClock, pauses: Pauses
) -> None:
    down = SmtpMailer(SmtpServer("127.0.0.1", closed_port(), False), SENDER, clock, sleep=pauses)
    with pytest.raises(MailUndelivered):
        await email_checks(store, clock, down).issue(request())
    with smtp_server() as back:
        up = SmtpMailer(SmtpServer.from_url(back.url), SENDER, clock, sleep=pauses)
        issued = await email_checks(store, clock, up).issue(request())
        assert await email_checks(store, clock, up).issue(request()) == issued
        assert len(back.boxes.all()) == 1


# --- the code stays in the mail --------------------------------------------------------------


async def test_the_code_is_in_the_mail_and_nowhere_else_and_the_password_nowhere(
    store: Store, checks: EmailChecks, server: SmtpTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        issued = await checks.issue(request())
        state = await checks.result(issued.id)
        with pytest.raises(ValueError, match="not a code this provider checks") as refused:
            await checks.verify_code(issued.id, CODE)
        await checks.withdraw(issued.id)
    (mail,) = server.boxes.all()
    assert CODE in mail.body
    assert any(e["event"] == "mail.sent" for e in events)  # the desk did log the send
    # every line logged but the test mail server's own (it logs what it receives)
    lines = [r.getMessage() for r in caplog.records if r.name != "mail.log"]
    stored = [await store.redis.get(k) async for k in store.redis.scan_iter(match="test:*")]
    seen = "\n".join([*lines, *map(repr, events), repr(issued), repr(state), repr(checks),
                      str(refused.value), *map(str, stored)])  # fmt: skip
    assert CODE not in seen
    assert LOGIN[1] not in seen
    assert "peter.lindgren@home.test" not in "\n".join(map(str, stored))  # masked at rest


# --- the check's life ------------------------------------------------------------------------


async def test_a_check_is_pending_until_withdrawn_or_expired(
    checks: EmailChecks, clock: ManualClock
) -> None:
    withdrawn = await checks.issue(request("su-1"))
    lapsed = await checks.issue(request("su-2"))
    assert (await checks.result(withdrawn.id)).status == "pending"
    clock.advance(timedelta(minutes=3))
    await checks.withdraw(withdrawn.id)
    state = await checks.result(withdrawn.id)
    assert (state.status, state.at) == ("withdrawn", T0 + timedelta(minutes=3))
    clock.advance(timedelta(minutes=1))
    await checks.withdraw(withdrawn.id)  # again: no change
    assert await checks.result(withdrawn.id) == state
    clock.advance(timedelta(minutes=6))
    expired = await checks.result(lapsed.id)
    assert (expired.status, expired.at) == ("expired", lapsed.expires_at)
    await checks.withdraw(lapsed.id)  # closed already: it stays as it is
    assert await checks.result(lapsed.id) == expired
    assert (await checks.result(withdrawn.id)).status == "withdrawn"
    for unknown in (checks.result("chk-none"), checks.verify_code("chk-none", CODE),
                    checks.withdraw("chk-none")):  # fmt: skip
        with pytest.raises(NotFoundError):
            await unknown


# --- notices and links -----------------------------------------------------------------------


def item(kind: Any = "notification", channel: Any = "email_all", **fields: Any) -> OutboxItem:
    fields.setdefault("to", "peter")
    fields.setdefault("address", "")
    return OutboxItem(id=fields.pop("id", "ob-1"), channel=channel, kind=kind,
                      text=fields.pop("text", "A password reset was requested."),
                      created_at=T0, **fields)  # fmt: skip


def outbox(store: Store, mailer: Mailer, **kw: Any) -> EmailOutbox:
    return EmailOutbox(store, Book(BOOK), mailer, **kw)


async def test_a_notice_reaches_every_address_once(
    store: Store, mailer: SmtpMailer, server: SmtpTestServer
) -> None:
    box = outbox(store, mailer)
    delivered = await box.deliver(item())
    assert sorted(m.recipients for m in server.boxes.all()) == [
        ("peter.lindgren@home.test",), ("peter@initech.test",)
    ]  # fmt: skip
    assert all(
        m.message["Subject"] == texts.say("email.subject_notice") for m in server.boxes.all()
    )
    assert delivered.address == "p•••@initech.test, p•••@home.test"
    assert await box.deliver(item()) == delivered  # a retried delivery sends nothing
    assert len(server.boxes.all()) == 2
    await box.deliver(item(id="ob-2", to="mo"))  # the same address twice on record: once
    assert [m.recipients for m in server.boxes.to("mo@initech.test")] == [("mo@initech.test",)]


async def test_a_change_notice_goes_once_to_each_address_and_skips_the_phone(
    store: Store, clock: ManualClock, mailer: SmtpMailer, server: SmtpTestServer
) -> None:
    book = Book(BOOK)
    peter = await book.person("peter")
    assert peter is not None
    assert peter.factors == ("email", "sms")
    box = EmailOutbox(store, book, mailer)
    delivered = await notify_change(peter, "an account unlock", book, box, clock)
    assert [d.channel for d in delivered] == ["email", "email"]  # not the SMS: no phone here
    assert sorted(m.recipients for m in server.boxes.all()) == [
        ("peter.lindgren@home.test",), ("peter@initech.test",)
    ]  # fmt: skip
    assert all("An account unlock for your account" in m.body for m in server.boxes.all())


async def test_a_link_goes_to_the_first_address_in_the_order_and_is_not_kept(
    store: Store, mailer: SmtpMailer, server: SmtpTestServer
) -> None:
    token = "tok-3f9a1c"
    link = item("reset_link", "email", text=f"Reset here: https://login.test/r#{token}",
                secret=token)  # fmt: skip
    delivered = await outbox(store, mailer).deliver(link)
    (mail,) = server.boxes.all()
    assert mail.recipients == ("peter.lindgren@home.test",)
    assert mail.message["Subject"] == texts.say("email.subject_reset_link")
    assert token in mail.body
    assert (delivered.address, delivered.secret) == ("p•••@home.test", None)
    stored = [await store.redis.get(k) async for k in store.redis.scan_iter(match="test:*")]
    assert token not in "\n".join(map(str, stored))
    enrol = item("enrolment_link", "email", id="ob-2", text="Enrol here")
    await outbox(store, mailer, order=("primary",)).deliver(enrol)
    assert server.boxes.all()[-1].recipients == ("peter@initech.test",)
    assert server.boxes.all()[-1].message["Subject"] == texts.say("email.subject_enrolment_link")


async def test_the_e_mail_outbox_reaches_no_phone(store: Store, mailer: SmtpMailer) -> None:
    box = outbox(store, mailer)
    for channel in ("sms", "push", "totp"):
        with pytest.raises(Unsupported) as caught:
            await box.deliver(item(channel=channel))
        assert caught.value.capability == channel
    with pytest.raises(NotFoundError):
        await box.deliver(item(to="nobody"))


async def test_a_delivery_that_failed_half_way_sends_only_the_rest_again(
    store: Store, mailer: SmtpMailer, server: SmtpTestServer
) -> None:
    class FailsOnce:
        def __init__(self) -> None:
            self.failed = False

        async def send(self, mail: Mail) -> None:
            if mail.to == "peter.lindgren@home.test" and not self.failed:
                self.failed = True
                raise MailUndelivered("down", transient=True)
            await mailer.send(mail)

    box = outbox(store, FailsOnce())
    with pytest.raises(MailUndelivered):
        await box.deliver(item())
    await box.deliver(item())
    assert sorted(m.recipients for m in server.boxes.all()) == [
        ("peter.lindgren@home.test",), ("peter@initech.test",)
    ]  # fmt: skip


# --- the desk over it ------------------------------------------------------------------------


class EmailFactor:
    """A directory seen as one with contact points: the people in `book` have the e-mail
    factor, registered at the first of their addresses on record."""

    def __init__(self, inner: Directory, book: Book) -> None:
        self._inner = inner
        self._book = book

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def person(self, username: str) -> Person | None:
        person = await self._inner.person(username)
        if person is None or await self._book.contact_points(username) is None:
            return person
        return person.model_copy(update={"factors": ("email",)})

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        if await self._book.contact_points(username) is None:
            return await self._inner.factor_address(username, factor)
        return await self._book.factor_address(username, factor)

    async def recovery_address(self, username: str) -> str | None:
        return await self.factor_address(username, "email")


async def test_peter_locked_out_types_the_code_from_his_mail_and_is_unlocked(
    store: Store, mailer: SmtpMailer, server: SmtpTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = ManualClock(ORG.now)
    world = await SandboxWorld.create(store.child("world"), ORG, clock, reset=True)
    book = Book({"peter": PETER})
    directory = EmailFactor(world.directory, book)
    backends = dataclasses.replace(
        world.backends(),
        directory=directory,
        checks=EmailChecks(store, clock, directory, mailer, contacts=book),
        outbox=EmailOutbox(store, book, mailer),
    )
    chat = RecordingChat()
    wired = build_desk(store, backends, clock, knowledge=KnowledgeBase.load(world.knowledge),
                       outbound=chat, audit=AuditLog(store, AUDIT_KEY))  # fmt: skip
    desk = Conversation(wired, world, chat)

    with structlog.testing.capture_logs() as events:
        asked = await desk.say("peter", "my account got locked after too many wrong passwords")
        assert server.boxes.to("peter@initech.test") == []  # the locked mailbox is passed over
        (mail,) = server.boxes.to("peter.lindgren@home.test")
        (code,) = codes_in(mail.body)
        assert "p•••@home.test" in " ".join(desk.said(asked))
        answered = await desk.say("peter", code)

    peter = await world.directory.person("peter")
    assert peter is not None
    assert not peter.locked
    assert await desk.executed() == [("unlock_account", {"user": "peter"})]
    notice = texts.say("email.subject_notice")
    notices = [m for m in server.boxes.all() if m.message["Subject"] == notice]
    assert sorted(m.recipients for m in notices) == [
        ("peter.lindgren@home.test",), ("peter@initech.test",)
    ]  # fmt: skip
    assert all(code not in text for text in desk.said(asked) + desk.said(answered))
    assert all(code not in text for text in desk.dm_texts("peter"))
    lines = [r.getMessage() for r in caplog.records if r.name != "mail.log"]
    assert code not in "\n".join([*lines, *map(repr, events)])
    assert LOGIN[1] not in "\n".join([*lines, *map(repr, events)])
