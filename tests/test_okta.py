"""The Okta adapter over the fake Okta org: rate-limit waits, paging, Okta's errors as the
ports' errors, the OAuth service app's signed assertion, accounts mastered in AD, a lost
write answer. (The ports' contract itself runs in tests/contracts as the `okta` backend.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from okta_org import CATALOGUE, ORG, ROLES, Sleeps, directory, service_key
from servers.okta import FakeOkta, running_okta

from adapters.okta.client import (
    RATE_LIMIT_RETRIES,
    OktaError,
    OktaPermissionDenied,
    OktaUnavailable,
)
from adapters.okta.directory import OktaDirectory
from bot.clock import ManualClock
from bot.ports import NotFoundError, OutcomeUnknown, Unsupported


@pytest.fixture
def clock() -> ManualClock:
    assert ORG.now is not None
    return ManualClock(ORG.now)


@pytest.fixture
def sleeps(clock: ManualClock) -> Sleeps:
    return Sleeps(clock)


@pytest.fixture
def fake(clock: ManualClock, request: pytest.FixtureRequest) -> Iterator[FakeOkta]:
    options = getattr(request, "param", {})
    with running_okta(clock, **options) as okta:
        okta.seed(ORG, ROLES, ad_sourced=frozenset({"ben"}))
        yield okta


@pytest.fixture
def okta(fake: FakeOkta, clock: ManualClock, sleeps: Sleeps) -> OktaDirectory:
    return directory(fake, clock, sleeps)


# --- rate limits ------------------------------------------------------------------------------


@pytest.mark.parametrize("fake", [{"rate_limit": 3}], indirect=True)
async def test_a_call_waits_for_the_reset_once_no_calls_remain(
    fake: FakeOkta, okta: OktaDirectory, sleeps: Sleeps, clock: ManualClock
) -> None:
    start = clock.now().timestamp()
    for _ in range(5):
        await okta.client.get("/api/v1/users", {"limit": 1})
    assert [e.status for e in fake.exchanges] == [200] * 5  # never throttled
    reset = int(fake.exchanges[2].answer_headers["X-Rate-Limit-Reset"])
    assert fake.exchanges[2].answer_headers["X-Rate-Limit-Remaining"] == "0"
    assert sleeps.slept == [pytest.approx(reset - start)]  # one wait, until that reset


async def test_a_throttled_call_waits_and_is_tried_again_a_bounded_number_of_times(
    fake: FakeOkta, okta: OktaDirectory, sleeps: Sleeps
) -> None:
    fake.throttle(2)
    assert (await okta.person("mo")) is not None
    assert [e.status for e in fake.exchanges[:3]] == [429, 429, 200]
    assert len(sleeps.slept) == 2
    assert all(0 < s <= 60 for s in sleeps.slept)
    fake.throttle(100)
    before = len(fake.exchanges)
    with pytest.raises(OktaUnavailable, match="429"):
        await okta.client.get("/api/v1/groups")
    assert len(fake.exchanges) - before == RATE_LIMIT_RETRIES + 1


# --- paging -----------------------------------------------------------------------------------


async def test_lists_are_read_over_every_page(fake: FakeOkta, okta: OktaDirectory) -> None:
    assert fake.page_size == 2
    assert [p.username for p in await okta.people()] == sorted(ORG.users)
    pages = [e for e in fake.seen("GET", "/api/v1/users") if e.path == "/api/v1/users"]
    assert len(pages) == 2
    assert "after" not in pages[0].query
    assert pages[1].query["after"]
    assert 'rel="next"' in pages[0].answer_headers["Link"]


# --- errors -----------------------------------------------------------------------------------


async def test_okta_errors_are_the_ports_errors_and_say_what_okta_said(
    fake: FakeOkta, okta: OktaDirectory
) -> None:
    with pytest.raises(NotFoundError):
        await okta.client.get("/api/v1/users/00unobody")
    ida = fake.user_id("ida")  # suspended: Okta suspends only active users
    with pytest.raises(ValueError, match="Cannot suspend a user that is not active"):
        await okta.client.post(f"/api/v1/users/{ida}/lifecycle/suspend")
    with pytest.raises(OktaError, match="E0000031"):
        await okta.client.get("/api/v1/users", {"search": 'profile.login zz "x"'})
    ben = fake.user_id("ben")  # mastered in AD: the fake refuses as Okta does
    with pytest.raises(OktaError, match="E0000032") as refused:
        await okta.client.post(f"/api/v1/users/{ben}/lifecycle/unlock")
    assert refused.value.status == 403


async def test_a_refused_token_is_an_operator_problem_that_never_shows_the_token(
    fake: FakeOkta, clock: ManualClock, sleeps: Sleeps
) -> None:
    wrong = directory(fake, clock, sleeps, okta_token="00-not-the-token")
    with pytest.raises(OktaUnavailable, match="E0000011") as refused:
        await wrong.person("ana")
    assert "00-not-the-token" not in str(refused.value) + repr(wrong) + repr(wrong.client)
    assert fake.exchanges[-1].status == 401


# --- the OAuth service app --------------------------------------------------------------------


async def test_a_service_app_signs_in_with_its_key_and_calls_with_a_bearer_token(
    fake: FakeOkta, clock: ManualClock, sleeps: Sleeps, tmp_path: Path
) -> None:
    private, public = service_key()
    fake.register_app("0oadesk", public, "okta.users.manage okta.groups.manage okta.logs.read",
                      key_id="kid-1")  # fmt: skip
    pem_file = tmp_path / "desk.pem"
    pem_file.write_text(private)
    for key in (private, str(pem_file)):  # PEM text, or the path of a PEM
        app = directory(fake, clock, sleeps, okta_client_id="0oadesk", okta_private_key=key,
                        okta_key_id="kid-1")  # fmt: skip
        assert (await app.person("ana")) is not None
        assert (await app.person("mo")) is not None
    assert len(fake.seen("POST", "/oauth2/v1/token")) == 2  # one token per directory, kept
    calls = fake.seen("GET", "/api/")
    assert calls
    assert all(e.headers["Authorization"].startswith("Bearer ") for e in calls)


async def test_a_service_app_with_another_key_or_too_few_scopes_is_refused(
    fake: FakeOkta, clock: ManualClock, sleeps: Sleeps
) -> None:
    private, public = service_key()
    other, _ = service_key()
    fake.register_app("0oadesk", public, "okta.users.read")
    forged = directory(fake, clock, sleeps, okta_client_id="0oadesk", okta_private_key=other,
                       okta_scopes="okta.users.read")  # fmt: skip
    with pytest.raises(OktaUnavailable, match="invalid_client") as refused:
        await forged.person("ana")
    assert "PRIVATE KEY" not in str(refused.value)
    reader = directory(fake, clock, sleeps, okta_client_id="0oadesk", okta_private_key=private,
                       okta_scopes="okta.users.read")  # fmt: skip
    assert (await reader.person("ana")) is not None
    with pytest.raises(OktaPermissionDenied, match="E0000006"):
        await reader.set_locked("ana", False)  # unlocking needs okta.users.manage
    assert (await reader.person("ana")).locked  # type: ignore[union-attr]


# --- accounts mastered in AD ------------------------------------------------------------------


async def test_an_account_mastered_in_ad_is_unlocked_and_reset_there(
    fake: FakeOkta, okta: OktaDirectory
) -> None:
    assert await okta.master_of("ben") == "ad"
    assert await okta.master_of("ana") == "okta"
    assert await okta.master_of("nobody") is None
    fake.lock_out("ben")
    for capability, call in (
        ("unlock", okta.set_locked("ben", False)),
        ("reset_link", okta.send_reset_link("ben")),
    ):
        with pytest.raises(Unsupported, match="mastered in Active Directory") as refused:
            await call
        assert refused.value.capability == capability
    assert (await okta.person("ben")).locked  # type: ignore[union-attr]
    assert fake.seen("POST", f"/api/v1/users/{fake.user_id('ben')}/lifecycle") == []
    await okta.set_locked("ana", False)  # an Okta-mastered account is unlocked by Okta
    assert not (await okta.person("ana")).locked  # type: ignore[union-attr]


async def test_an_imported_group_is_changed_at_its_source(
    fake: FakeOkta, okta: OktaDirectory
) -> None:
    with fake.lock:
        fake.state.add_group("vpn-users", "APP_GROUP")
    with pytest.raises(Unsupported) as refused:
        await okta.add_member("ana", "vpn-users")
    assert refused.value.capability == "group_membership"
    assert fake.seen("PUT", "/api/v1/groups") == []


# --- lost answers -----------------------------------------------------------------------------


async def test_a_write_whose_answer_is_lost_is_an_unknown_outcome(
    fake: FakeOkta, okta: OktaDirectory
) -> None:
    fake.lose_answers(1)
    with pytest.raises(OutcomeUnknown):
        await okta.set_disabled("mo", True)
    assert (await okta.person("mo")).disabled  # type: ignore[union-attr]  # it was applied
    fake.lose_answers(2)  # aiohttp sends an idempotent PUT again once by itself
    with pytest.raises(OutcomeUnknown):
        await okta.add_member("ana", "reports")
    assert len(fake.seen("PUT", "/api/v1/groups")) == 2
    assert "reports" in (await okta.person("ana")).groups  # type: ignore[union-attr]


async def test_a_locked_out_person_is_disabled_unlocked_and_suspended(
    okta: OktaDirectory,
) -> None:
    await okta.set_disabled("ana", True)
    ana = await okta.person("ana")
    assert ana is not None
    assert (ana.disabled, ana.locked) == (True, False)
    await okta.set_disabled("ana", False)
    assert not (await okta.person("ana")).disabled  # type: ignore[union-attr]


def test_the_catalogue_and_roles_files_match_the_org() -> None:
    assert (CATALOGUE.groups, CATALOGUE.software) == (ORG.groups, ORG.software)
    assert ROLES.roles["oncall"] == ["it-oncall"]


async def test_a_next_page_outside_the_org_is_never_followed(
    fake: FakeOkta, okta: OktaDirectory
) -> None:
    fake.links_to = "http://elsewhere.test"
    with pytest.raises(OktaError, match="outside the Okta org"):
        await okta.people()
    assert len(fake.seen("GET", "/api/v1/users")) == 1  # the first page only


# --- who is who -------------------------------------------------------------------------------


async def test_a_username_is_a_login_local_part_and_one_two_logins_share_finds_nobody(
    fake: FakeOkta, okta: OktaDirectory
) -> None:
    with fake.lock:
        fake.state.add_user("00uother", {"login": "ana@other.test", "email": "ana@other.test",
                                         "firstName": "Ana", "lastName": "Other"},
                            "ACTIVE", ("OKTA", "OKTA"))  # fmt: skip
    assert await okta.person("ana") is None  # two logins share it: neither is guessed
    assert "ana" not in [p.username for p in await okta.people()]
    assert await okta.person_by_email("ana@contract.test") is None
    assert (await okta.person("BEN")) == await okta.person("ben")  # whatever its case


async def test_a_renamed_login_is_found_by_its_new_name(fake: FakeOkta, okta: OktaDirectory
                                                         ) -> None:  # fmt: skip
    assert await okta.person("ana") is not None  # its id is now known
    ana_id = fake.user_id("ana")
    with fake.lock:
        fake.state.user(ana_id)["profile"]["login"] = "anna@contract.test"
    assert await okta.person("ana") is None
    anna = await okta.person("anna")
    assert anna is not None
    assert anna.email == "ana@contract.test"


async def test_a_manager_may_be_named_by_login_and_a_second_address_finds_a_person(
    fake: FakeOkta, okta: OktaDirectory
) -> None:
    with fake.lock:
        fake.state.add_user("00unew", {"login": "zed@contract.test", "email": "zed@contract.test",
                                       "secondEmail": "zed@home.test", "firstName": "Zed",
                                       "lastName": "Ito", "manager": "mo@contract.test"},
                            "ACTIVE", ("OKTA", "OKTA"))  # fmt: skip
    zed = await okta.person("zed")
    assert zed is not None
    assert zed.manager == "mo"
    assert "zed" in [p.username for p in await okta.reports_of("mo")]
    assert await okta.person_by_email("ZED@home.test ") == zed
    points = await okta.contact_points("zed")
    assert points is not None
    assert points.secondary_email == "zed@home.test"


async def test_a_write_that_times_out_is_unknown_and_a_read_that_does_is_unavailable(
    fake: FakeOkta, clock: ManualClock, sleeps: Sleeps
) -> None:
    slow = directory(fake, clock, sleeps, okta_timeout=0.1)
    ana = await slow.people_of.require("ana")
    fake.stall = 1.0
    with pytest.raises(OutcomeUnknown):
        await slow.client.post(f"/api/v1/users/{ana['id']}/lifecycle/unlock")
    with pytest.raises(OktaUnavailable, match="cannot be reached"):
        await slow.person("mo")
    fake.stall = 0.0
    assert not (await slow.person("ana")).locked  # type: ignore[union-attr]  # it was applied
