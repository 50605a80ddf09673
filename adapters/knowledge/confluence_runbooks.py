"""The Confluence pages of the configured spaces as the desk's runbooks, read again at most
every refresh interval.

Between reads the last set is kept; a read that fails keeps it too (and says so), so a
Confluence outage leaves the desk answering from pages a little old rather than from none.
A page whose body cannot be read is left out, the others kept. A page seen twice (paging
over a changing space, overlapping spaces) counts once, at its newest version.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import aiohttp
import structlog

from adapters.knowledge.confluence import (
    ConfluenceClient,
    ConfluencePage,
    ConfluenceRefused,
    ConfluenceUnavailable,
    Sleep,
)
from adapters.knowledge.storage_text import StorageFormatError, storage_text
from bot.clock import Clock, SystemClock
from bot.knowledge import Runbook
from bot.settings_tickets import TicketSettings

__all__ = ["ConfluenceRunbooks", "runbooks_of"]

log = structlog.get_logger("itdesk.confluence")


class ConfluenceRunbooks:
    """Runbooks read from `spaces` through `client`, cached for `refresh`."""

    def __init__(
        self,
        client: ConfluenceClient,
        spaces: tuple[str, ...],
        *,
        refresh: timedelta,
        clock: Clock | None = None,
    ) -> None:
        self._client = client
        self._spaces = spaces
        self._refresh = refresh
        self._clock = clock or SystemClock()
        self._kept: list[Runbook] = []
        self._read_at: datetime | None = None
        self._reading = asyncio.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: TicketSettings,
        *,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> ConfluenceRunbooks | None:
        """The source the settings name, or None when no Confluence is configured."""
        s = settings
        if s.confluence_url is None or s.confluence_email is None or s.confluence_api_token is None:
            return None
        client = ConfluenceClient(s.confluence_url, s.confluence_email, s.confluence_api_token,
                                  sleep=sleep, session=session)  # fmt: skip
        return cls(client, s.confluence_space_keys, clock=clock,
                   refresh=timedelta(minutes=s.confluence_refresh_minutes))  # fmt: skip

    async def runbooks(self) -> list[Runbook]:
        """The runbooks, read again when the last read is older than the refresh interval.

        The first read's `ConfluenceRefused` is raised (the operator must hear of it at
        start-up); later failures keep the last good set and are logged."""
        async with self._reading:
            now = self._clock.now()
            if self._read_at is not None and now - self._read_at < self._refresh:
                return list(self._kept)
            first = self._read_at is None
            self._read_at = now  # a failed read is tried again after the interval, not sooner
            try:
                pages = await self._client.pages(self._spaces)
            except ConfluenceRefused as exc:
                if first:
                    raise
                log.error("confluence_refresh_failed", reason=str(exc), kept=len(self._kept))
                return list(self._kept)
            except ConfluenceUnavailable as exc:
                log.warning("confluence_refresh_failed", reason=str(exc), kept=len(self._kept))
                return list(self._kept)
            self._kept = runbooks_of(pages)
            log.info("confluence_runbooks_read", pages=len(self._kept), spaces=self._spaces)
            return list(self._kept)


def runbooks_of(pages: list[ConfluencePage]) -> list[Runbook]:
    """Each page once (its newest version) as a runbook citing its address; a page whose
    body does not convert is left out with a log line."""
    newest: dict[str, ConfluencePage] = {}
    for page in pages:
        if page.id not in newest or page.version > newest[page.id].version:
            newest[page.id] = page
    found = []
    for page in newest.values():
        try:
            body = storage_text(page.storage)
        except StorageFormatError as exc:
            log.warning("confluence_page_skipped", page=page.id, title=page.title, reason=str(exc))
            continue
        found.append(Runbook(page.title, body, page.url, url=page.url))
    return found
