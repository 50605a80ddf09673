"""Duo Push as a check provider (`adapters.checks.duo`) over the fake Auth API: who is
reached (never a bypass user), each answer a push can get (approve, deny, fraud, time out,
bypass, too late), one push per request key, withdrawn pushes whose later approval is not
taken, and Duo's errors as the ports' errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from pydantic import SecretStr
from servers.duo import IKEY, SKEY, DuoDevice, DuoPhone, DuoServer

from adapters.checks.duo import DuoChecks
from adapters.checks.duo_api import DuoApi
from adapters.checks.provider_http import ProviderRefused, ProviderUnavailable
from bot.clock import ManualClock
from bot.ports import CheckRequest, NotFoundError, OutcomeUnknown, Reach, Unsupported
from bot.settings_cloud import CloudSettings
from bot.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANA_PHONE = "+44 7700 900123"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def duo(clock: ManualClock) -> Iterator[DuoServer]:
    server = DuoServer(clock.now).start()
    server.add_user("ana", "auth", DuoDevice("DPANA", ANA_PHONE, "iPhone"))
    server.add_user("ben", "auth", DuoDevice("DPBEN", "+1 555 555 0100", "Desk phone", ("sms",)))
    server.add_user("bypass", "allow", DuoDevice("DPBYP", "+44 7700 900555", "iPhone"))
    server.add_user("denied", "deny")
    try:
        yield server
    finally:
        server.stop()


def api(server: DuoServer, clock: ManualClock, *, skey: str = SKEY, **kw: float) -> DuoApi:
    return DuoApi(server.url, IKEY, SecretStr(skey), clock, **kw)


@pytest.fixture
def checks(store: Store, clock: ManualClock, duo: DuoServer) -> DuoChecks:
    return DuoChecks(store, clock, api(duo, clock))


def push(key: str = "su-1", username: str = "ana", *, within: timedelta = timedelta(minutes=10),
         message: str = "Approve the IT desk's sign-in check?") -> CheckRequest:  # fmt: skip
    return CheckRequest(key=key, username=username, factor="push", message=message,
                        expires_at=T0 + within)  # fmt: skip


# --- reach ---------------------------------------------------------------------------------


async def test_only_a_person_duo_asks_for_a_push_is_reached(checks: DuoChecks) -> None:
    assert await checks.reachable("ana") == (Reach(factor="push", address="+44 •••• ••23"),)
    assert await checks.reachable("ben") == ()  # no device that takes pushes
    assert await checks.reachable("denied") == ()
    assert await checks.reachable("stranger") == ()  # Duo would have them enroll


async def test_a_bypass_user_is_never_reached_nor_pushed(checks: DuoChecks, duo: DuoServer) -> None:
    with structlog.testing.capture_logs() as logs:
        assert await checks.reachable("bypass") == ()
        with pytest.raises(NotFoundError):
            await checks.issue(push(username="bypass"))
    assert not duo.calls("/auth/v2/auth")
    assert any(e["event"] == "duo.bypass_user_not_reached" for e in logs)


async def test_a_push_duo_lets_through_as_a_bypass_is_denied(
    checks: DuoChecks, duo: DuoServer
) -> None:
    check = await checks.issue(push())
    duo.settle(check.id, "allow", "bypass")  # the person became a bypass user meanwhile
    assert (await checks.result(check.id)).status == "denied"


# --- answers -------------------------------------------------------------------------------


async def test_a_push_says_what_the_desk_asks_and_is_sent_once_per_key(
    checks: DuoChecks, duo: DuoServer
) -> None:
    first = await checks.issue(push(message="Approve the desk's check?\nAsked at 09:00 UTC"))
    assert await checks.issue(push()) == first
    (sent,) = duo.pushes("ana")
    assert (sent.txid, sent.device, sent.type) == (first.id, "DPANA", "Approve the desk's check?")
    assert sent.pushinfo["IT desk request"] == "su-1"
    assert first.expires_at == T0 + timedelta(seconds=60)  # Duo's minute, sooner than asked
    assert (first.kind, first.verifier, first.address) == ("push", "provider", "+44 •••• ••23")


@pytest.mark.parametrize(
    ("answer", "status"), [("approve", "approved"), ("deny", "denied"), ("time_out", "expired")]
)
async def test_each_answer_on_the_phone_reads_back(
    checks: DuoChecks, duo: DuoServer, answer: str, status: str
) -> None:
    check = await checks.issue(push())
    assert (await checks.result(check.id)).status == "pending"
    phone = DuoPhone(duo)
    if answer == "time_out":
        await phone.time_out(check.id)
    else:
        await phone.answer(check.id, approve=answer == "approve")
    state = await checks.result(check.id)
    assert state.status == status
    assert state.at is not None


async def test_a_push_reported_as_fraud_is_denied_and_told_to_security(
    checks: DuoChecks, duo: DuoServer
) -> None:
    check = await checks.issue(push())
    await DuoPhone(duo).report_fraud(check.id)
    with structlog.testing.capture_logs() as logs:
        assert (await checks.result(check.id)).status == "denied"
        assert (await checks.result(check.id)).status == "denied"  # told once
    frauds = [e for e in logs if e["event"] == "duo.push_fraud"]
    assert len(frauds) == 1
    assert frauds[0]["log_level"] == "warning"
    assert (frauds[0]["user"], frauds[0]["txid"]) == ("ana", check.id)


async def test_an_unanswered_push_times_out_on_duos_clock(
    checks: DuoChecks, clock: ManualClock
) -> None:
    check = await checks.issue(push())
    clock.advance(timedelta(seconds=59))
    assert (await checks.result(check.id)).status == "pending"
    clock.advance(timedelta(seconds=1))
    state = await checks.result(check.id)
    assert (state.status, state.at) == ("expired", check.expires_at)


async def test_an_approval_first_read_after_the_desks_expiry_is_not_taken(
    checks: DuoChecks, duo: DuoServer, clock: ManualClock
) -> None:
    check = await checks.issue(push(within=timedelta(seconds=20)))
    clock.advance(timedelta(seconds=30))
    await DuoPhone(duo).answer(check.id, approve=True)
    assert (await checks.result(check.id)).status == "expired"


async def test_a_withdrawn_push_approved_afterwards_is_not_taken(
    checks: DuoChecks, duo: DuoServer
) -> None:
    check = await checks.issue(push())
    await checks.withdraw(check.id)
    await DuoPhone(duo).answer(check.id, approve=True)
    assert (await checks.result(check.id)).status == "withdrawn"


async def test_a_poll_duo_holds_without_news_is_pending(
    store: Store, clock: ManualClock, duo: DuoServer
) -> None:
    duo.long_poll = 2.0
    checks = DuoChecks(store, clock, api(duo, clock, poll_timeout=0.2))
    check = await checks.issue(push())
    assert (await checks.result(check.id)).status == "pending"  # the news: pushed
    assert (await checks.result(check.id)).status == "pending"  # held: no news


async def test_only_pushes_and_only_checks_it_issued(checks: DuoChecks) -> None:
    with pytest.raises(Unsupported) as caught:
        await checks.issue(push().model_copy(update={"factor": "sms"}))
    assert caught.value.capability == "sms"
    check = await checks.issue(push())
    with pytest.raises(ValueError, match="not a code this provider checks"):
        await checks.verify_code(check.id, "123456")
    for call in (checks.result, checks.withdraw):
        with pytest.raises(NotFoundError):
            await call("00000000-not-issued")


# --- errors --------------------------------------------------------------------------------


async def test_duos_refusals_and_failures_map_to_the_desks_errors(
    checks: DuoChecks, duo: DuoServer
) -> None:
    duo.fail("/auth/v2/auth", 400, 40002, "Invalid request parameters")
    with pytest.raises(ProviderRefused) as caught:
        await checks.issue(push())
    assert (caught.value.status, caught.value.code) == (400, 40002)
    duo.fail("/auth/v2/preauth", 503, 50301, "Service unavailable")
    with pytest.raises(ProviderUnavailable):
        await checks.reachable("ana")
    check = await checks.issue(push())  # a refused issue left nothing under its key
    duo.fail("/auth/v2/auth_status", 429, 42901, "Too many requests")
    with pytest.raises(ProviderRefused):
        await checks.result(check.id)


async def test_a_push_whose_answer_was_lost_is_an_unknown_outcome(
    store: Store, clock: ManualClock, duo: DuoServer
) -> None:
    duo.stall("/auth/v2/auth", 1.0)
    checks = DuoChecks(store, clock, api(duo, clock, timeout=0.2))
    with pytest.raises(OutcomeUnknown):
        await checks.issue(push())
    assert len(duo.pushes("ana")) == 1  # it went out: Duo has no idempotency key to retry by


async def test_duo_unreachable_is_not_an_unknown_outcome(store: Store, clock: ManualClock) -> None:
    checks = DuoChecks(store, clock, DuoApi("http://127.0.0.1:9", IKEY, SecretStr(SKEY), clock))
    with pytest.raises(ProviderUnavailable):
        await checks.issue(push())


async def test_the_integration_is_the_one_the_settings_name(
    store: Store, clock: ManualClock, duo: DuoServer
) -> None:
    settings = CloudSettings(duo_api_url=duo.url, duo_integration_key=IKEY,
                             duo_secret_key=SecretStr(SKEY))  # fmt: skip
    checks = DuoChecks(store, clock, DuoApi.from_settings(settings, clock))
    assert [r.factor for r in await checks.reachable("ana")] == ["push"]
    with pytest.raises(ValueError, match="ITDESK_DUO_API_URL"):
        DuoApi.from_settings(CloudSettings(duo_integration_key=IKEY), clock)


async def test_a_push_past_its_time_is_expired_even_with_duo_unreachable(
    checks: DuoChecks, duo: DuoServer, clock: ManualClock
) -> None:
    check = await checks.issue(push())
    clock.advance(timedelta(minutes=2))
    duo.fail("/auth/v2/auth_status", 503, 50301, "Service unavailable")
    assert (await checks.result(check.id)).status == "expired"
