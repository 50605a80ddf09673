"""Okta Verify and Okta's codes as the desk's checks, and Okta's System Log as its lockout feed,
over the fake Okta org: number matching, a withdrawn push that is approved late, Okta's own
timeout, authenticator codes, wrong codes; the feed's first poll, cursor and paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from okta_org import ORG, ROLES, Sleeps, directory
from servers.okta import FakeOkta, running_okta

from adapters.okta.directory import OktaDirectory
from adapters.okta.syslog import OktaLockouts
from adapters.okta.verify import MAX_CODE_ATTEMPTS, OktaVerifyChecks
from bot.clock import ManualClock
from bot.models import FactorKind
from bot.ports import CheckRequest
from bot.store import Store


@pytest.fixture
def clock() -> ManualClock:
    assert ORG.now is not None
    return ManualClock(ORG.now)


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeOkta]:
    with running_okta(clock) as okta:
        okta.seed(ORG, ROLES)
        yield okta


@pytest.fixture
def okta(fake: FakeOkta, clock: ManualClock) -> OktaDirectory:
    return directory(fake, clock, Sleeps(clock))


@pytest.fixture
def checks(okta: OktaDirectory, store: Store, clock: ManualClock) -> OktaVerifyChecks:
    return OktaVerifyChecks(okta, store, clock)


def ask(clock: ManualClock, key: str, factor: FactorKind = "push", username: str = "ana"
        ) -> CheckRequest:  # fmt: skip
    return CheckRequest(key=key, username=username, factor=factor, message="Code: {code}",
                        code="111111", expires_at=clock.now() + timedelta(minutes=30))  # fmt: skip


# --- checks -----------------------------------------------------------------------------------


async def test_reach_is_what_okta_can_verify_strongest_first(checks: OktaVerifyChecks) -> None:
    assert [r.factor for r in await checks.reachable("mo")] == ["totp", "email"]
    ana = await checks.reachable("ana")
    assert [r.factor for r in ana] == ["push", "sms"]
    assert ana[0].address == "Okta Verify on Ana's iPhone"
    assert await checks.reachable("nobody") == ()


async def test_a_push_asks_for_number_matching_and_shows_the_number(
    fake: FakeOkta, checks: OktaVerifyChecks, clock: ManualClock
) -> None:
    push = await checks.issue(ask(clock, "k1"))
    sent = fake.seen("POST", "/api/v1/users/")[-1]
    assert b'"useNumberMatchingChallenge": true' in sent.body
    with fake.lock:
        assert push.number == str(fake.state.transactions[push.id].number)
    assert push.expires_at == clock.now() + timedelta(minutes=5)  # Okta's limit is sooner
    fake.answer_push(push.id, approve=False)
    assert (await checks.result(push.id)).status == "denied"


async def test_a_withdrawn_push_takes_no_late_approval(
    fake: FakeOkta, checks: OktaVerifyChecks, clock: ManualClock
) -> None:
    push = await checks.issue(ask(clock, "k1"))
    await checks.withdraw(push.id)
    fake.answer_push(push.id, approve=True)  # Okta cannot cancel it: the phone still can
    assert (await checks.result(push.id)).status == "withdrawn"


async def test_a_push_okta_timed_out_is_expired(
    fake: FakeOkta, checks: OktaVerifyChecks, clock: ManualClock
) -> None:
    push = await checks.issue(ask(clock, "k1"))
    with fake.lock:
        fake.state.transactions[push.id].result = "TIMEOUT"  # Okta's word, before the clock's
    assert (await checks.result(push.id)).status == "expired"


async def test_a_code_is_okta_own_and_too_many_wrong_ones_deny_it(
    fake: FakeOkta, checks: OktaVerifyChecks, clock: ManualClock
) -> None:
    sms = await checks.issue(ask(clock, "k1", "sms"))
    record = await checks.record(sms.id)
    sent = fake.sent_code(record.factor_id)
    assert sent is not None
    assert sent != "111111"  # Okta sent its own code, not the desk's
    for _ in range(MAX_CODE_ATTEMPTS):
        assert not await checks.verify_code(sms.id, "000000" if sent != "000000" else "999999")
    assert (await checks.result(sms.id)).status == "denied"
    assert not await checks.verify_code(sms.id, sent)


async def test_an_authenticator_code_is_checked_by_okta_and_nothing_is_sent(
    fake: FakeOkta, checks: OktaVerifyChecks, clock: ManualClock
) -> None:
    before = len(fake.seen("POST", "/api/v1/users/"))
    totp = await checks.issue(ask(clock, "k1", "totp", username="mo"))
    assert (totp.kind, totp.verifier, totp.address) == (
        "code",
        "provider",
        "your authenticator app",
    )
    assert len(fake.seen("POST", "/api/v1/users/")) == before
    code = fake.sent_code((await checks.record(totp.id)).factor_id)
    assert code is not None
    assert await checks.verify_code(totp.id, code)
    assert (await checks.result(totp.id)).status == "approved"


# --- the lockout feed -------------------------------------------------------------------------


async def test_the_feed_starts_now_and_goes_on_from_its_cursor(
    fake: FakeOkta, okta: OktaDirectory, clock: ManualClock
) -> None:
    feed = OktaLockouts(okta.client, clock, page=2)
    fake.lock_out("ida")  # before the desk ever looked: history, not news
    clock.advance(timedelta(seconds=1))
    first = await feed.lockouts_since(None)
    assert first.lockouts == ()
    assert fake.seen("GET", "/api/v1/logs") == []
    clock.advance(timedelta(minutes=1))
    events = [fake.lock_out(u) for u in ("ana", "ben", "mo")]
    fake.lock_out("ida", reason="locked_by 10.1.2.3!")
    page = await feed.lockouts_since(first.cursor)
    assert [lo.id for lo in page.lockouts] == [e["uuid"] for e in events] + [page.lockouts[3].id]
    assert [lo.username for lo in page.lockouts] == ["ana", "ben", "mo", "ida"]
    assert {lo.source for lo in page.lockouts} == {"okta"}
    assert page.lockouts[0].reason == "too many failed sign-ins"
    assert page.lockouts[3].reason == "locked by"  # no address or number comes through
    assert page.lockouts[0].at == clock.now()
    assert len(fake.seen("GET", "/api/v1/logs")) == 3  # two full pages and an empty one
    again = await feed.lockouts_since(page.cursor)
    assert again.lockouts == ()  # the same instant, its events already read
    clock.advance(timedelta(seconds=5))
    newer = fake.lock_out("ben")
    latest = await feed.lockouts_since(again.cursor)
    assert [lo.id for lo in latest.lockouts] == [newer["uuid"]]


async def test_a_cursor_not_of_this_feed_is_refused(okta: OktaDirectory, clock: ManualClock
                                                    ) -> None:  # fmt: skip
    with pytest.raises(ValueError, match="cursor"):
        await OktaLockouts(okta.client, clock).lockouts_since("not-a-cursor")
