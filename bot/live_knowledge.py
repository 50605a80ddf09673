"""Runbooks that change while the desk runs: the shipped and org runbooks, plus pages read
from where the IT team keeps them (Confluence), re-read every so often by each process.
Searching stays synchronous and cheap: a refresh builds a new `KnowledgeBase` and swaps it
in whole; one that fails keeps the last good one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import structlog

from bot.knowledge import KnowledgeBase, Runbook, RunbookHit

log = structlog.get_logger("itdesk.knowledge")
Pages = Callable[[], Awaitable[list[Runbook]]]


class LiveRunbooks:
    """`Runbooks` over `local` and the pages `pages` reads, refreshed every `every`."""

    def __init__(self, local: Sequence[Runbook], pages: Pages, every: timedelta) -> None:
        self._local = list(local)
        self._pages = pages
        self._every = every
        self._base = KnowledgeBase(self._local)

    async def refresh(self) -> int:
        """Read the pages again and search them from now on: how many there are. A source
        that keeps its last good pages when it cannot be read (`ConfluenceRunbooks`)
        makes a failed read change nothing."""
        pages = await self._pages()
        self._base = KnowledgeBase([*self._local, *pages])
        return len(pages)

    def search(self, text: str, k: int = 1, *, intent: str | None = None) -> list[RunbookHit]:
        return self._base.search(text, k, intent=intent)

    def titles(self) -> Sequence[str]:
        return self._base.titles()

    async def keep_fresh(self, stop: asyncio.Event) -> None:
        """Refresh every `every` until `stop` is set: each desk process keeps its own copy
        (searches never wait on the network), so each runs this."""
        while True:
            try:
                await asyncio.wait_for(stop.wait(), self._every.total_seconds())
                return
            except TimeoutError:
                pass
            try:
                log.info("knowledge.refreshed", pages=await self.refresh())
            except Exception:
                log.warning("knowledge.refresh_failed", exc_info=True)
