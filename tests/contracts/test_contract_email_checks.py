"""The `Checks` contract for codes by e-mail (`adapters.checks.email`) over a real SMTP server:
the shared contract run again over it (its pushes, SMS and authenticator codes are refused as
`Unsupported`; a person without the e-mail factor is not found), then the contract's code
tests for the factor it has, with the person's phone being their mailbox.

It is not one of `backends.BACKENDS`: those bundle a directory, devices and tickets, which
here would be the sandbox's again, and a mail server the factories could not stop. Ben of the
contract org has the e-mail factor, at his mailbox on record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from backends import ORG, Backend
from servers.smtp import SmtpTestServer, smtp_server
from test_contract_checks import (  # noqa: F401 (collected again here, over this backend)
    SOON,
    T0,
    request,
    test_a_check_for_someone_or_a_factor_not_registered_is_not_found,
    test_a_code_check_must_say_where_the_code_goes,
    test_a_code_is_judged_by_whoever_the_provider_says,
    test_a_code_left_to_the_provider_is_judged_by_it,
    test_a_push_answered_on_the_phone_reads_back,
    test_a_push_is_issued_once_per_key_and_pending_until_answered,
    test_a_withdrawn_check_reads_as_withdrawn,
    test_an_unanswered_check_expires,
    test_checks_nobody_issued_are_not_found,
)

from adapters.checks.email import EmailChecks
from adapters.mail.message import REF_HEADER
from adapters.mail.smtp import SmtpMailer, SmtpServer
from bot.clock import ManualClock
from bot.store import Store
from bot.world import SandboxWorld
from verification.codes import codes_in

CODE = "482913"


class Mailbox:
    """The test person's "phone": their mail, read off the SMTP server by the check's id."""

    def __init__(self, server: SmtpTestServer) -> None:
        self._server = server

    async def answer(self, check_id: str, *, approve: bool) -> object:
        raise AssertionError("an e-mail check is never a push")

    async def code(self, check_id: str) -> str | None:
        mails = [m for m in self._server.boxes.all() if m.message[REF_HEADER] == check_id]
        return codes_in(mails[-1].body)[0] if mails else None


@pytest.fixture
def server() -> Iterator[SmtpTestServer]:
    with smtp_server(login=("itdesk", "contract-pw"), starttls=True) as running:
        yield running


@pytest.fixture
async def backend(store: Store, server: SmtpTestServer) -> Backend:
    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    world = await SandboxWorld.create(store.child("world"), ORG, clock)
    mailer = SmtpMailer(SmtpServer.from_url(server.url), "desk@contract.test", clock,
                        ca_file=server.ca_file)  # fmt: skip
    return Backend(
        name="email",
        directory=world.directory,
        devices=world.devices,
        tickets=world.tickets,
        checks=EmailChecks(store, clock, world.directory, mailer),
        lacks=frozenset({"push", "sms", "totp"}),
        phone=Mailbox(server),
        advance=clock.advance,
    )


async def test_an_email_code_is_issued_once_per_key_to_the_address_on_record(
    backend: Backend, server: SmtpTestServer
) -> None:
    code = await backend.checks.issue(request("su-1", "email", username="ben", code=CODE))
    assert (code.kind, code.verifier) == ("code", "desk")
    assert code.address == await backend.directory.factor_address("ben", "email")
    assert code.expires_at <= SOON
    assert await backend.checks.issue(request("su-1", "email", username="ben", code=CODE)) == code
    assert [m.recipients for m in server.boxes.all()] == [("ben@contract.test",)]
    assert (await backend.checks.result(code.id)).status == "pending"


async def test_the_desk_judges_an_email_code(backend: Backend) -> None:
    code = await backend.checks.issue(request("su-1", "email", username="ben", code=CODE))
    assert await backend.needs_phone().code(code.id) == CODE
    with pytest.raises(ValueError, match="not a code this provider checks"):
        await backend.checks.verify_code(code.id, CODE)
    assert (await backend.checks.result(code.id)).status == "pending"


async def test_a_code_the_provider_would_mint_is_refused(backend: Backend) -> None:
    with pytest.raises(ValueError, match="the request has none"):
        await backend.checks.issue(request("su-1", "email", username="ben"))


async def test_a_withdrawn_email_check_reads_as_withdrawn(backend: Backend) -> None:
    code = await backend.checks.issue(request("su-1", "email", username="mo", code=CODE))
    await backend.checks.withdraw(code.id)
    await backend.checks.withdraw(code.id)
    assert (await backend.checks.result(code.id)).status == "withdrawn"


async def test_an_unanswered_email_check_expires(backend: Backend) -> None:
    code = await backend.checks.issue(request("su-1", "email", username="mo", code=CODE))
    backend.later(code.expires_at - T0)
    assert (await backend.checks.result(code.id)).status == "expired"


async def test_an_email_code_check_must_say_where_the_code_goes(backend: Backend) -> None:
    asked = request("su-1", "email", username="ben", code=CODE)
    with pytest.raises(ValueError, match="where the code goes"):
        await backend.checks.issue(asked.model_copy(update={"message": "Hi"}))
    assert (await backend.checks.issue(asked)).kind == "code"
