"""Where runbooks come from besides the shipped and org ones: the Confluence spaces
ITDESK_CONFLUENCE_* name, read at start-up and kept fresh (`bot.live_knowledge`)."""

from __future__ import annotations

from datetime import timedelta

from adapters.knowledge.confluence import ConfluenceRefused
from adapters.knowledge.confluence_runbooks import ConfluenceRunbooks
from bot.clock import Clock
from bot.knowledge import KnowledgeBase
from bot.live_knowledge import LiveRunbooks
from bot.settings import Settings


async def confluence_runbooks(
    settings: Settings, local: KnowledgeBase, clock: Clock
) -> LiveRunbooks | None:
    """The local runbooks with the Confluence spaces' pages beside them, when configured;
    a refused sign-in stops start-up, naming the settings."""
    confluence = ConfluenceRunbooks.from_settings(settings, clock=clock)
    if confluence is None:
        return None
    every = timedelta(minutes=settings.confluence_refresh_minutes)
    live = LiveRunbooks(local.runbooks, confluence.runbooks, every)
    try:
        await live.refresh()
    except ConfluenceRefused as exc:
        raise SystemExit(str(exc)) from None
    return live
