"""Entra's `LockoutFeed`: sign-ins that smart lockout stopped (50053) and users Identity
Protection holds at risk, polled with a cursor that starts now, never skips a late event
nor gives one twice, and a tenant without the licence to read them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
from servers.graph import FakeGraph, entra_settings, seeded_graph

from adapters.entra.graph import PermissionMissing
from adapters.entra.signins import EntraSignIns
from bot.clock import ManualClock
from bot.org import load_org

ORG = load_org(Path(__file__).parent / "contracts" / "org.yaml")
assert ORG.now is not None
NOW = ORG.now


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with seeded_graph() as running:
        yield running


def feed(fake: FakeGraph, clock: ManualClock) -> EntraSignIns:
    return EntraSignIns.from_settings(entra_settings(fake), clock=clock)


async def test_the_first_poll_starts_now_and_later_lockouts_come_once(fake: FakeGraph) -> None:
    clock = ManualClock(NOW + timedelta(minutes=1))
    f = feed(fake, clock)
    first = await f.lockouts_since(None)
    assert first.lockouts == ()  # ana's lockout at NOW is history
    ben = fake.tenant.user("ben")["id"]
    clock.advance(timedelta(minutes=2))
    fake.tenant.add_sign_in(ben, clock.now(), 0)  # a good sign-in is no lockout
    locked = fake.tenant.add_sign_in(ben, clock.now(), 50053)
    page = await f.lockouts_since(first.cursor)
    assert [(lo.id, lo.username, lo.kind, lo.at) for lo in page.lockouts] == [
        (locked["id"], "ben", "locked", clock.now())]  # fmt: skip
    assert "failed sign-ins" in page.lockouts[0].reason
    again = await f.lockouts_since(page.cursor)
    assert again.lockouts == ()
    # the log is late: an event from before the last one seen still comes, once
    late = fake.tenant.add_sign_in(fake.tenant.user("mo")["id"], clock.now() - timedelta(
        minutes=1), 50053)  # fmt: skip
    found = await f.lockouts_since(again.cursor)
    assert [lo.id for lo in found.lockouts] == [late["id"]]
    assert (await f.lockouts_since(found.cursor)).lockouts == ()
    # the cursor keeps the ids of the window the next poll reads again, no older ones
    clock.advance(timedelta(hours=1))
    newest = fake.tenant.add_sign_in(ben, clock.now(), 50053)
    later = await f.lockouts_since(found.cursor)
    assert [lo.id for lo in later.lockouts] == [newest["id"]]
    assert json.loads(later.cursor)["signins"]["seen"] == [newest["id"]]


async def test_risky_users_at_high_or_medium_risk_are_risk_lockouts(fake: FakeGraph) -> None:
    clock = ManualClock(NOW + timedelta(minutes=1))  # after ana's lockout
    f = feed(fake, clock)
    start = await f.lockouts_since(None)
    clock.advance(timedelta(minutes=5))
    fake.tenant.add_risky_user(fake.tenant.user("ben")["id"], clock.now(), "medium")
    fake.tenant.add_risky_user(fake.tenant.user("mo")["id"], clock.now(), "low")
    fake.tenant.add_risky_user(fake.tenant.user("ida")["id"], clock.now(), "high", "dismissed")
    page = await f.lockouts_since(start.cursor)
    assert [(lo.username, lo.kind) for lo in page.lockouts] == [("ben", "risk")]
    assert "medium" in page.lockouts[0].reason
    assert (await f.lockouts_since(page.cursor)).lockouts == ()


async def test_an_unlicensed_tenant_gives_no_lockouts_and_says_so_once(fake: FakeGraph) -> None:
    clock = ManualClock(NOW)
    f = feed(fake, clock)
    start = await f.lockouts_since(None)
    fake.unlicensed = {"signIns", "riskyUsers"}
    clock.advance(timedelta(minutes=1))
    fake.tenant.add_sign_in(fake.tenant.user("ben")["id"], clock.now(), 50053)
    with structlog.testing.capture_logs() as logs:
        page = await f.lockouts_since(start.cursor)
        page = await f.lockouts_since(page.cursor)
    assert page.lockouts == ()
    assert sorted(e["source"] for e in logs if e["event"] == "entra.unlicensed") == [
        "riskyUsers", "signIns"]  # fmt: skip


async def test_a_missing_permission_is_an_error_not_silence(fake: FakeGraph) -> None:
    fake.permissions.discard("AuditLog.Read.All")
    f = feed(fake, ManualClock(NOW))
    start = await f.lockouts_since(None)
    with pytest.raises(PermissionMissing, match=r"AuditLog\.Read\.All"):
        await f.lockouts_since(start.cursor)
