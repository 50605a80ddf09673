"""Runbooks from Confluence beside the desk's own, as `itdesk serve` builds them: read at
start-up, searched with the local ones and cited by their page's link; a refused sign-in
stops start-up with a message naming the settings, never the token; a refresh picks up an
edited page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from servers.confluence import FakeConfluence, running_confluence

from bot.clock import ManualClock
from bot.knowledge import KnowledgeBase, Runbook
from bot.knowledge_backends import confluence_runbooks
from bot.settings import Settings, load_settings

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
VPN = (
    "<h1>Before you start</h1><p>Make sure the <strong>Acme VPN</strong> client is installed."
    "</p><ol><li>Open the Acme VPN client.</li><li>Choose the <em>Home office</em> gateway "
    "and sign in.</li></ol>"
)
LOCAL = KnowledgeBase([Runbook("Printer jams", "1. Open tray 2.\n2. Remove the paper.", "org")])


@pytest.fixture
def confluence() -> Iterator[FakeConfluence]:
    with running_confluence() as fake:
        fake.add_space("IT", "IT help")
        yield fake


def settings(fake: FakeConfluence, token: str | None = None) -> Settings:
    return load_settings(
        _env_file=None, confluence_url=fake.url, confluence_email=fake.email,
        confluence_api_token=token or fake.api_token, confluence_spaces="IT",
    )  # fmt: skip


async def test_pages_are_searched_beside_the_local_runbooks_and_cited(
    confluence: FakeConfluence,
) -> None:
    page = confluence.add_page("IT", "Connect to the VPN from home", VPN)
    live = await confluence_runbooks(settings(confluence), LOCAL, ManualClock(T0))
    assert live is not None

    (hit,) = live.search("how do I connect to the vpn from home")
    assert hit.title == "Connect to the VPN from home"
    assert hit.url == confluence.web_url(page)
    (local,) = live.search("the printer jams")
    assert (local.title, local.url) == ("Printer jams", None)


async def test_a_refused_sign_in_stops_start_up_naming_the_settings(
    confluence: FakeConfluence,
) -> None:
    with pytest.raises(SystemExit) as stopped:
        await confluence_runbooks(settings(confluence, "wrong-token-456"), LOCAL, ManualClock(T0))
    assert "ITDESK_CONFLUENCE_API_TOKEN" in str(stopped.value)
    assert "wrong-token-456" not in str(stopped.value)


async def test_without_confluence_the_local_runbooks_stand_alone() -> None:
    assert await confluence_runbooks(load_settings(_env_file=None), LOCAL, ManualClock(T0)) is None


async def test_an_edited_page_is_searched_after_a_refresh(confluence: FakeConfluence) -> None:
    page = confluence.add_page("IT", "Connect to the VPN from home", VPN)
    clock = ManualClock(T0)
    live = await confluence_runbooks(settings(confluence), LOCAL, clock)
    assert live is not None
    confluence.edit_page(page, "<p>Use the new Zscaler client instead of the VPN.</p>",
                         title="Working from home: Zscaler")  # fmt: skip
    clock.advance(timedelta(minutes=31))
    await live.refresh()
    (hit,) = live.search("working from home with zscaler")
    assert hit.title == "Working from home: Zscaler"
    stop = asyncio.Event()
    stop.set()
    await live.keep_fresh(stop)  # returns at once when told to stop
