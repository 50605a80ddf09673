"""The desk's own reset links, for a directory that cannot send them: minted, delivered out of
band once per request, pointing at the desk's page or at the org's own portal."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from harness import ORG, conversation

from bot.cases import CaseStatus
from bot.clock import ManualClock
from bot.ports import LinkSent, NotFoundError, OutboxItem
from bot.reset_links import (
    DeskResetLinks,
    ResetLinkConfig,
    case_of,
    desk_reset_links,
    sends_own_reset_links,
)
from bot.settings import load_settings
from bot.state.reset_tokens import ResetTokens
from bot.store import Store
from bot.world import SandboxWorld

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = "C-1A2B3C4D:0:reset_link"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def world(store: Store, clock: ManualClock) -> SandboxWorld:
    return await SandboxWorld.create(store.child("world"), ORG, clock, unsupported={"reset_link"})


def links(world: SandboxWorld, store: Store, config: ResetLinkConfig) -> DeskResetLinks:
    tokens = ResetTokens(store, world.clock)
    return DeskResetLinks(world.directory, tokens, world.outbox, world.clock, config)


async def test_only_a_directory_without_links_of_its_own_gets_the_desks(
    world: SandboxWorld, store: Store, clock: ManualClock
) -> None:
    full = await SandboxWorld.create(store.child("full"), ORG, clock)
    assert sends_own_reset_links(full.directory)
    assert desk_reset_links(full.backends(), store, clock, None) is None
    assert not sends_own_reset_links(world.directory)
    wrapped = desk_reset_links(world.backends(), store, clock, None)
    assert isinstance(wrapped, DeskResetLinks)
    bare = dataclasses.replace(world.backends(), directory=object())
    assert isinstance(desk_reset_links(bare, store, clock, None), DeskResetLinks)  # says nothing


async def test_a_link_goes_to_the_address_on_record_once_per_request(
    world: SandboxWorld, store: Store
) -> None:
    d = links(world, store, ResetLinkConfig("https://desk.initech.test"))
    recovery = await world.directory.recovery_address("zoe")
    sent = await d.send_reset_link("zoe", key=KEY)
    assert sent == LinkSent(address=recovery or "")
    assert await d.send_reset_link("zoe", key=KEY) == sent  # a retry after a lost answer
    (item,) = await world.outbox.items("zoe")
    assert (item.kind, item.address, item.channel) == ("reset_link", recovery, "sms")
    assert item.secret is not None
    assert f"https://desk.initech.test/reset/{item.secret}" in item.text
    assert "15 minutes" in item.text
    assert "didn't ask" in item.text
    assert item.expires_at == T0 + timedelta(minutes=15)
    grant = await d.tokens.grant(item.secret)
    assert grant is not None
    assert (grant.username, grant.case_id, grant.address) == ("zoe", "C-1A2B3C4D", recovery)
    await d.send_reset_link("zoe", key="C-1A2B3C4D:1:reset_link")
    assert len(await world.outbox.items("zoe")) == 2
    with pytest.raises(NotFoundError):
        await d.send_reset_link("nobody", key=KEY)


async def test_a_link_that_was_not_delivered_is_sent_anew_on_the_retry(
    world: SandboxWorld, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = links(world, store, ResetLinkConfig())
    real = world.outbox.deliver
    failed: list[OutboxItem] = []

    async def mail_down(item: OutboxItem) -> Any:
        failed.append(item)
        raise ConnectionError("mail relay down")

    monkeypatch.setattr(world.outbox, "deliver", mail_down)
    with pytest.raises(ConnectionError):
        await d.send_reset_link("zoe", key=KEY)
    assert failed[0].secret is not None
    assert await d.tokens.grant(failed[0].secret) is None  # the undelivered token is void
    monkeypatch.setattr(world.outbox, "deliver", real)
    await d.send_reset_link("zoe", key=KEY)
    (item,) = await world.outbox.items("zoe")
    assert item.secret is not None
    assert item.secret != failed[0].secret
    assert item.text.startswith("Reset your password here: http://127.0.0.1:8080/reset/")


async def test_with_the_orgs_own_portal_the_link_points_there_and_carries_no_token(
    world: SandboxWorld, store: Store
) -> None:
    d = links(world, store, ResetLinkConfig(portal_url="https://reset.initech.test/"))
    assert not d.config.serves_page
    await d.send_reset_link("zoe", key=KEY)
    await d.send_reset_link("zoe", key=KEY)
    (item,) = await world.outbox.items("zoe")
    assert "https://reset.initech.test/" in item.text
    assert item.secret is None
    assert await d.tokens.live("zoe") == 0


def test_where_links_point_comes_from_the_settings() -> None:
    public = load_settings(public_url="https://desk.initech.test", port=9000)
    assert ResetLinkConfig.from_settings(public).link("t") == "https://desk.initech.test/reset/t"
    local = ResetLinkConfig.from_settings(load_settings(port=9000))
    assert (local.base_url, local.serves_page) == ("http://127.0.0.1:9000", True)
    portal = load_settings(password_reset_url="https://reset.initech.test")
    assert ResetLinkConfig.from_settings(portal).portal_url == "https://reset.initech.test"


def test_the_case_comes_from_the_request_key_a_skill_sends_under() -> None:
    assert case_of(KEY) == "C-1A2B3C4D"
    assert case_of("C-1A2B3C4D:2:enrolment_link") is None
    assert case_of("anything") is None
    assert case_of(None) is None


async def test_a_desk_over_a_directory_without_links_sends_its_own(store: Store) -> None:
    desk = await conversation(store, unsupported=("reset_link",))
    assert isinstance(desk.desk.reset_links, DeskResetLinks)
    await desk.say("zoe", "forgot my password, can you send me a reset?")
    said = desk.said(await desk.verify("zoe"))
    (item,) = [i for i in await desk.world.outbox.items("zoe") if i.kind == "reset_link"]
    assert item.secret is not None
    assert f"http://127.0.0.1:8080/reset/{item.secret}" in item.text
    assert any(item.address in t for t in said)
    assert (await desk.case("zoe")).status == CaseStatus.RESOLVED
    grant = await desk.desk.reset_links.tokens.grant(item.secret)
    assert grant is not None
    assert grant.case_id == (await desk.case("zoe")).id
    assert (await conversation(store.child("full"))).desk.reset_links is None
