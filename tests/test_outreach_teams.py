"""Whether a lockout message would reach someone in Teams (`Reach`), against the fake Bot
Connector of the Teams tests: someone who installed the app is reached; someone Teams does
not know is not (the desk e-mails them instead), and is remembered as such."""

from __future__ import annotations

from test_teams import Harness, bot, connector

__all__ = ["bot", "connector"]  # the Teams tests' fixtures, used here


async def test_teams_says_whom_a_message_reaches(bot: Harness) -> None:
    install = bot.activity("frank")
    install.update(type="installationUpdate", action="add")
    await bot.send(install)
    assert await bot.teams.reaches("frank")

    assert not await bot.teams.reaches("grace")  # not a member of any team the app is in
    lookups = len(bot.connector.calls("GET", "/members/"))
    assert not await bot.teams.reaches("grace")
    assert len(bot.connector.calls("GET", "/members/")) == lookups
