"""The desk's Okta client and the fake Okta both held to Okta's published OpenAPI spec: every
request the adapter sends and every answer the fake gives during a run of each operation
(and its refusals) validates against the spec slice, and the slice holds only operations
the adapter uses."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import yaml
from okta_org import ORG, ROLES, Sleeps, directory, service_key
from servers.okta import Exchange, FakeOkta, running_okta
from servers.okta_spec import SPECS, problems

from adapters.okta.client import OktaError
from adapters.okta.syslog import OktaLockouts
from adapters.okta.verify import OktaVerifyChecks
from bot.clock import ManualClock
from bot.models import FactorKind
from bot.ports import CheckRequest, NotFoundError
from bot.store import Store


@pytest.fixture
def clock() -> ManualClock:
    assert ORG.now is not None
    return ManualClock(ORG.now)


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeOkta]:
    with running_okta(clock) as okta:
        okta.seed(ORG, ROLES, ad_sourced=frozenset({"ida"}))
        yield okta


async def exercise(fake: FakeOkta, clock: ManualClock, store: Store) -> None:
    """Every operation the adapter has, and the refusals it maps."""
    d = directory(fake, clock, Sleeps(clock))
    await d.people()
    await d.people_with_role("security")
    await d.reports_of("mo")
    await d.groups()
    await d.person_by_email("ben@contract.test")
    await d.set_locked("ana", False)
    await d.set_disabled("ben", True)
    await d.set_disabled("ben", False)
    await d.add_member("ana", "reports")
    await d.remove_member("ana", "staff")
    await d.revoke_sessions("ben")
    await d.send_reset_link("ben")
    await d.reset_factors("mo")
    checks = OktaVerifyChecks(d, store, clock)
    soon = clock.now() + timedelta(minutes=10)

    def ask(key: str, factor: FactorKind, username: str) -> CheckRequest:
        return CheckRequest(key=key, username=username, factor=factor, message="{code}",
                            expires_at=soon)  # fmt: skip

    push = await checks.issue(ask("p", "push", "ana"))
    await checks.result(push.id)
    fake.answer_push(push.id, approve=True)
    await checks.result(push.id)
    denied = await checks.issue(ask("d", "push", "ana"))
    fake.answer_push(denied.id, approve=False)
    await checks.result(denied.id)
    for key, factor, username in (("s", "sms", "ben"), ("e", "email", "ben")):
        code = await checks.issue(ask(key, factor, username))
        await checks.verify_code(code.id, "000000")  # refused: E0000068
        sent = fake.sent_code((await checks.record(code.id)).factor_id)
        await checks.verify_code(code.id, sent or "")
    feed = OktaLockouts(d.client, clock, page=1)
    cursor = (await feed.lockouts_since(None)).cursor
    fake.lock_out("ana")
    fake.lock_out("ben")
    await feed.lockouts_since(cursor)
    with contextlib.suppress(NotFoundError):
        await d.client.get("/api/v1/users/00unobody")  # 404
    with contextlib.suppress(ValueError):
        await d.client.post(f"/api/v1/users/{fake.user_id('ida')}/lifecycle/suspend")  # 400
    with contextlib.suppress(OktaError):
        await d.client.post(f"/api/v1/users/{fake.user_id('ida')}/lifecycle/unlock")  # 403
    fake.throttle(1)
    await d.person("ana")  # 429, then again
    private, public = service_key()
    fake.register_app("0oadesk", public, "okta.users.manage")
    app = directory(fake, clock, Sleeps(clock), okta_client_id="0oadesk",
                    okta_private_key=private, okta_scopes="okta.users.manage")  # fmt: skip
    await app.person("ana")  # a token, then a Bearer call


async def test_requests_and_answers_agree_with_okta_spec(
    fake: FakeOkta, clock: ManualClock, store: Store
) -> None:
    await exercise(fake, clock, store)
    statuses = {e.status for e in fake.exchanges}
    assert {200, 201, 204, 400, 403, 404, 429} <= statuses
    assert fake.seen("POST", "/oauth2/v1/token")
    assert problems(fake.exchanges) == []


async def test_the_slice_holds_only_what_the_adapter_calls(
    fake: FakeOkta, clock: ManualClock, store: Store
) -> None:
    await exercise(fake, clock, store)
    spec = yaml.safe_load((SPECS / "management.yaml").read_text())
    operations = {(m.upper(), p) for p, item in spec["paths"].items() for m in item
                  if m != "parameters"}  # fmt: skip
    called = {(m, p) for m, p in operations
              for e in fake.exchanges if e.method == m and _matches(p, e.path)}  # fmt: skip
    assert called == operations


def test_an_answer_okta_would_not_give_is_caught() -> None:
    factors = b'[{"id": "f1", "factorType": "sms"}]'
    good = Exchange("GET", "/api/v1/users/00u1/factors", {}, {"Authorization": "SSWS x"}, b"",
                    200, "application/json", factors, {})  # fmt: skip
    assert problems([good]) == []
    bad = dataclasses.replace(good, answer=b'{"factors": "none"}')
    assert problems([bad])
    unknown = dataclasses.replace(good, path="/api/v1/users/00u1/factorz")
    assert problems([unknown])


def _matches(template: str, path: str) -> bool:
    pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
    return re.fullmatch(pattern, path) is not None
