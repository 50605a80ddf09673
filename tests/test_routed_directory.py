"""Several directories behind one (ITDESK_DIRECTORY=okta,ad): each person's account writes
go to the directory that masters them, factors and sessions stay with the front, a lock is
read from both, and a group is changed where the desk may change it. Two sandbox worlds
stand in for the cloud front and AD: the front says Peter is mastered in AD and refuses, as
Okta does, to unlock or reset an AD-sourced person."""

from __future__ import annotations

from typing import Any

import pytest
from harness import ORG

from adapters.directory.routed import RoutedDirectory
from adapters.directory.sandbox import SandboxDirectory
from bot.clock import ManualClock
from bot.ports import Master, NotFoundError, Unsupported
from bot.reset_links import DeskResetLinks, ResetLinkConfig
from bot.state.reset_tokens import ResetTokens
from bot.store import Store
from bot.world import SandboxWorld

FROM_AD = {"peter"}
PUSHED_FROM_AD = {"sales"}  # a group the front shows but cannot change


class CloudFront:
    """The sandbox directory as a cloud IdP in front of AD: it knows who AD masters."""

    def __init__(self, inner: SandboxDirectory) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def master_of(self, username: str) -> Master | None:
        if await self.inner.person(username) is None:
            return None
        return "ad" if username in FROM_AD else "okta"

    async def set_locked(self, username: str, locked: bool) -> None:
        if username in FROM_AD:
            raise Unsupported("unlock", "the account is mastered in Active Directory")
        await self.inner.set_locked(username, locked)

    async def add_member(self, username: str, group_id: str) -> None:
        if group_id in PUSHED_FROM_AD:
            raise Unsupported("group_membership", "the group is pushed from Active Directory")
        await self.inner.add_member(username, group_id)


async def two_directories(
    store: Store, ad_lacks: frozenset[str] = frozenset()
) -> tuple[RoutedDirectory, SandboxWorld, SandboxWorld]:
    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    cloud = await SandboxWorld.create(store.child("cloud"), ORG, clock)
    ad = await SandboxWorld.create(store.child("ad"), ORG, clock, unsupported=ad_lacks)
    routed = RoutedDirectory([("okta", CloudFront(cloud.directory)), ("ad", ad.directory)])
    return routed, cloud, ad


async def test_an_ad_sourced_person_is_unlocked_in_ad_and_others_in_the_front(
    store: Store,
) -> None:
    routed, cloud, ad = await two_directories(store)
    await ad.directory.set_locked("peter", True)
    await cloud.directory.set_locked("peter", False)
    await cloud.directory.set_locked("zoe", True)

    peter = await routed.person("peter")
    assert peter is not None
    assert peter.locked  # locked in AD, though the front does not show it
    await routed.set_locked("peter", False)
    await routed.set_locked("zoe", False)

    assert not (await ad.directory.person("peter")).locked  # type: ignore[union-attr]
    assert not (await cloud.directory.person("zoe")).locked  # type: ignore[union-attr]
    assert not (await routed.person("peter")).locked  # type: ignore[union-attr]
    assert await routed.master_of("peter") == "ad"
    assert await routed.master_of("zoe") == "okta"
    assert await routed.master_of("nobody") is None
    with pytest.raises(NotFoundError):
        await routed.set_locked("nobody", False)


async def test_factors_and_sessions_stay_with_the_front(store: Store) -> None:
    routed, cloud, ad = await two_directories(store)
    await routed.reset_factors("peter")
    await routed.revoke_sessions("peter")

    assert await cloud.directory.factor_resets("peter") == 1
    assert await ad.directory.factor_resets("peter") == 0
    assert await cloud.directory.revocations("peter") == 1
    assert await ad.directory.revocations("peter") == 0


async def test_a_group_pushed_from_ad_is_changed_in_ad(store: Store) -> None:
    routed, cloud, ad = await two_directories(store)
    await routed.add_member("zoe", "sales")
    await routed.add_member("zoe", "pipeline-reports")

    assert "sales" in (await ad.directory.person("zoe")).groups  # type: ignore[union-attr]
    assert "sales" not in (await cloud.directory.person("zoe")).groups  # type: ignore[union-attr]
    cloud_zoe = await cloud.directory.person("zoe")
    assert cloud_zoe is not None
    assert "pipeline-reports" in cloud_zoe.groups
    with pytest.raises(NotFoundError):
        await routed.add_member("zoe", "no-such-group")


async def test_reset_links_come_from_the_master_or_the_desk(store: Store) -> None:
    """Peter's master (AD here) sends no links of its own, so the desk's reset link reaches
    him and its page sets the password in AD; Zoe's front sends its own."""
    routed, cloud, ad = await two_directories(store, frozenset({"reset_link"}))
    assert ORG.now is not None
    clock = ManualClock(ORG.now)
    desk_links = DeskResetLinks(routed, ResetTokens(store, clock), cloud.outbox, clock,
                                ResetLinkConfig())  # fmt: skip
    assert not await routed.sends_reset_link("peter")
    assert await routed.sends_reset_link("zoe")

    await desk_links.send_reset_link("peter", key="case-1:0:reset_link")
    await desk_links.send_reset_link("zoe", key="case-2:0:reset_link")

    peters = [i for i in await cloud.outbox.items("peter") if i.kind == "reset_link"]
    assert len(peters) == 1
    assert "/reset/" in peters[0].text  # the desk's own page
    zoes = [i for i in await cloud.outbox.items("zoe") if i.kind == "reset_link"]
    assert len(zoes) == 1
    assert "/reset/" not in zoes[0].text  # the front sent Zoe's itself
    await routed.set_password("peter", "a new long passphrase", must_change=False)
    assert await ad.directory.passwords.matches("peter", "a new long passphrase")
    assert not await cloud.directory.passwords.matches("peter", "a new long passphrase")
