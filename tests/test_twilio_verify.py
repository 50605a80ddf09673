"""SMS codes through a Twilio-compatible Verify API (`adapters.checks.twilio_verify`) over the
fake Verify service: who is reached (the sms factor and a mobile on record), codes Twilio
mints and judges, too many wrong codes and too many sends, expiry and withdrawal, Twilio's
errors as the ports' errors, and a code that is never in a log line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from pydantic import SecretStr
from servers.twilio import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, TwilioPhone, TwilioServer

from adapters.checks.provider_http import ProviderUnavailable
from adapters.checks.twilio_api import SendLimitReached, VerifyApi, VerifyError, e164
from adapters.checks.twilio_verify import TwilioVerifyChecks
from bot.clock import ManualClock
from bot.models import Person
from bot.ports import CheckRequest, ContactPoints, NotFoundError, OutcomeUnknown, Reach, Unsupported
from bot.settings_cloud import CloudSettings
from bot.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANA_MOBILE = "+44 7700 900123"
PEOPLE = {
    "ana": (Person(username="ana", name="Ana", email="ana@x.test", factors=("push", "sms")),
            ANA_MOBILE),
    "mo": (Person(username="mo", name="Mo", email="mo@x.test", factors=("email",)),
           "+44 7700 900456"),  # a mobile on record, but SMS is not a factor of theirs
    "noa": (Person(username="noa", name="Noa", email="noa@x.test", factors=("sms",)), None),
    "odd": (Person(username="odd", name="Odd", email="odd@x.test", factors=("sms",)),
            "+0 12"),  # not a number Verify takes
}  # fmt: skip


class Directory:
    """The little of a directory the provider reads: people and their factors."""

    async def person(self, username: str) -> Person | None:
        return PEOPLE[username][0] if username in PEOPLE else None


class Contacts:
    async def contact_points(self, username: str) -> ContactPoints | None:
        if username not in PEOPLE:
            return None
        person, mobile = PEOPLE[username]
        return ContactPoints(email=person.email, mobile=mobile)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def twilio(clock: ManualClock) -> Iterator[TwilioServer]:
    server = TwilioServer(clock.now).start()
    try:
        yield server
    finally:
        server.stop()


def verify_api(server: TwilioServer, *, token: str = AUTH_TOKEN, timeout: float = 10) -> VerifyApi:
    return VerifyApi(ACCOUNT_SID, SecretStr(token), SERVICE_SID, base_url=server.url,
                     timeout=timeout)  # fmt: skip


def provider(store: Store, clock: ManualClock, api: VerifyApi) -> TwilioVerifyChecks:
    return TwilioVerifyChecks(store, clock, Directory(), Contacts(), api)  # type: ignore[arg-type]


@pytest.fixture
def checks(store: Store, clock: ManualClock, twilio: TwilioServer) -> TwilioVerifyChecks:
    return provider(store, clock, verify_api(twilio))


def sms(key: str = "su-1", username: str = "ana") -> CheckRequest:
    return CheckRequest(key=key, username=username, factor="sms", message="Code: {code}",
                        code="482913", expires_at=T0 + timedelta(minutes=30))  # fmt: skip


async def test_only_people_with_the_sms_factor_and_a_mobile_on_record_are_reached(
    checks: TwilioVerifyChecks,
) -> None:
    assert await checks.reachable("ana") == (Reach(factor="sms", address="+44 •••• ••23"),)
    for username in ("mo", "noa", "nobody"):
        assert await checks.reachable(username) == ()
    with pytest.raises(NotFoundError):
        await checks.issue(sms(username="mo"))
    with pytest.raises(NotFoundError):
        await checks.issue(sms(username="nobody"))


async def test_twilio_mints_the_code_and_judges_it(
    checks: TwilioVerifyChecks, twilio: TwilioServer
) -> None:
    check = await checks.issue(sms())
    assert (check.kind, check.verifier, check.address) == ("code", "provider", "+44 •••• ••23")
    assert check.expires_at == T0 + timedelta(minutes=10)  # Verify's own ten minutes
    assert await checks.issue(sms()) == check  # the same key: no second text
    assert len(twilio.texts_to("+447700900123")) == 1  # to the number in E.164
    code = await TwilioPhone(twilio).code(check.id)
    assert code is not None
    assert code != "482913"  # Verify's own code, not the desk's
    assert not await checks.verify_code(check.id, "000000" if code != "000000" else "111111")
    assert (await checks.result(check.id)).status == "pending"
    assert await checks.verify_code(check.id, code)
    state = await checks.result(check.id)
    assert state.status == "approved"
    assert state.at == T0


async def test_five_wrong_codes_deny_the_check(
    checks: TwilioVerifyChecks, twilio: TwilioServer
) -> None:
    check = await checks.issue(sms())
    code = await TwilioPhone(twilio).code(check.id)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert not await checks.verify_code(check.id, wrong)
    assert (await checks.result(check.id)).status == "denied"
    assert not await checks.verify_code(check.id, code or "")


async def test_a_check_twilio_has_closed_for_too_many_attempts_is_denied(
    store: Store, clock: ManualClock, twilio: TwilioServer
) -> None:
    api = verify_api(twilio)
    checks = provider(store, clock, api)
    check = await checks.issue(sms())
    for _ in range(5):  # another desk worker, say, typed them
        await api.check(check.id, "000001")
    with structlog.testing.capture_logs() as logs:
        assert not await checks.verify_code(check.id, "000002")  # 429, 60202
    assert (await checks.result(check.id)).status == "denied"
    assert any(e["event"] == "twilio_verify.max_attempts" for e in logs)


async def test_too_many_codes_to_one_number_is_a_clear_error(checks: TwilioVerifyChecks) -> None:
    for n in range(5):
        await checks.issue(sms(key=f"su-{n}"))
    with pytest.raises(SendLimitReached) as caught:
        await checks.issue(sms(key="su-5"))
    assert caught.value.code == 60203
    assert "Max send attempts" in str(caught.value)


async def test_a_code_expires_with_the_verification(
    checks: TwilioVerifyChecks, twilio: TwilioServer, clock: ManualClock
) -> None:
    check = await checks.issue(sms())
    code = await TwilioPhone(twilio).code(check.id)
    clock.advance(timedelta(minutes=10))
    assert not await checks.verify_code(check.id, code or "")
    state = await checks.result(check.id)
    assert (state.status, state.at) == ("expired", check.expires_at)


async def test_a_verification_twilio_no_longer_has_is_not_found(
    checks: TwilioVerifyChecks, twilio: TwilioServer
) -> None:
    check = await checks.issue(sms())
    twilio.forget(check.id)
    with pytest.raises(NotFoundError):
        await checks.result(check.id)


async def test_withdrawing_cancels_the_verification(
    checks: TwilioVerifyChecks, twilio: TwilioServer
) -> None:
    check = await checks.issue(sms())
    code = await TwilioPhone(twilio).code(check.id)
    await checks.withdraw(check.id)
    verification = twilio.verification(check.id)
    assert verification is not None
    assert verification.status == "canceled"
    assert (await checks.result(check.id)).status == "withdrawn"
    assert not await checks.verify_code(check.id, code or "")
    approved = await checks.issue(sms(key="su-2"))
    assert await checks.verify_code(approved.id, await TwilioPhone(twilio).code(approved.id) or "")
    await checks.withdraw(approved.id)  # a closed check stays as it is
    assert (await checks.result(approved.id)).status == "approved"


async def test_only_sms_and_only_a_number_in_international_form(
    checks: TwilioVerifyChecks,
) -> None:
    with pytest.raises(Unsupported) as caught:
        await checks.issue(sms().model_copy(update={"factor": "push"}))
    assert caught.value.capability == "push"
    with pytest.raises(ValueError, match="where the code goes"):
        await checks.issue(sms().model_copy(update={"message": "Hello"}))
    assert e164("+1 (555) 555-0100") == "+15555550100"
    with pytest.raises(ValueError, match="international form"):
        e164("07700 900123")
    with pytest.raises(VerifyError) as refused:  # "+0 12": Verify's own refusal, 60200
        await checks.issue(sms(username="odd"))
    assert (refused.value.status, refused.value.code) == (400, 60200)


async def test_twilios_refusals_and_lost_answers_map_to_the_desks_errors(
    store: Store, clock: ManualClock, twilio: TwilioServer
) -> None:
    with pytest.raises(VerifyError) as caught:
        await provider(store, clock, verify_api(twilio, token="wrong")).issue(sms())
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert "wrong" not in str(caught.value)
    twilio.stall("Verifications", 1.0)
    with pytest.raises(OutcomeUnknown):
        await provider(store, clock, verify_api(twilio, timeout=0.2)).issue(sms())
    gone = provider(store, clock, VerifyApi(ACCOUNT_SID, SecretStr(AUTH_TOKEN), SERVICE_SID,
                                            base_url="http://127.0.0.1:9"))  # fmt: skip
    with pytest.raises(ProviderUnavailable):
        await gone.issue(sms(key="su-9"))
    assert AUTH_TOKEN not in repr(verify_api(twilio))


async def test_a_code_is_in_no_log_line(
    checks: TwilioVerifyChecks, twilio: TwilioServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        check = await checks.issue(sms())
        code = await TwilioPhone(twilio).code(check.id)
        assert code is not None
        await checks.verify_code(check.id, f"{(int(code) + 1) % 10**6:06d}")
        await checks.verify_code(check.id, code)
        await checks.result(check.id)
    assert logs  # the provider does log what it sends
    spoken = rf"\b{code}\b"  # as a word: a SID's hex digits may hold the same six digits
    assert not re.search(spoken, repr(logs))
    assert not re.search(spoken, caplog.text)


async def test_the_service_is_the_one_the_settings_name(
    store: Store, clock: ManualClock, twilio: TwilioServer
) -> None:
    settings = CloudSettings(twilio_verify_url=twilio.url, twilio_account_sid=ACCOUNT_SID,
                             twilio_auth_token=SecretStr(AUTH_TOKEN),
                             twilio_verify_service_sid=SERVICE_SID)  # fmt: skip
    checks = provider(store, clock, VerifyApi.from_settings(settings))
    assert (await checks.issue(sms())).kind == "code"
    with pytest.raises(ValueError, match="ITDESK_TWILIO_ACCOUNT_SID"):
        VerifyApi.from_settings(CloudSettings(twilio_verify_service_sid=SERVICE_SID))


async def test_a_check_withdrawn_after_its_expiry_stays_expired(
    checks: TwilioVerifyChecks, clock: ManualClock
) -> None:
    check = await checks.issue(sms())
    clock.advance(timedelta(minutes=11))
    await checks.withdraw(check.id)
    assert (await checks.result(check.id)).status == "expired"
