"""Who is who in Slack: a Slack user id to the verified e-mail the desk looks people up by,
and a directory username to the Slack user (and the DM channel) the desk writes to.

`users.info` answers are cached in process for a short time (a person's e-mail rarely
changes, but when it does, or they leave, the desk must notice within minutes); usernames to
Slack user ids and DM channels are kept in Redis, shared by every desk process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.chat.slack_state import SlackState
from bot.models import Refusal
from bot.ports import Directory

log = structlog.get_logger("itdesk.slack")

CACHE_LIMIT = 10_000
SLACKBOT = "USLACKBOT"


@dataclass(frozen=True)
class SlackUser:
    """A Slack user as the desk needs them: the verified e-mail (None when there is none the
    desk may trust), whether it is a bot, and why the account is refused when it is."""

    id: str
    email: str | None
    bot: bool = False
    refused: Refusal | None = None


def slack_user(data: dict[str, Any], team_id: str | None) -> SlackUser:
    """A `users.info` user object as a `SlackUser`. The e-mail is trusted only for a member of
    this workspace (not a bot, not deactivated, not a single- or multi-channel guest, not a
    Slack Connect user of another organisation) whose address Slack has confirmed; `refused`
    says which of those it is not (the `users:read.email` scope gives the e-mail at all)."""
    user_id = str(data.get("id") or "")
    bot = bool(data.get("is_bot")) or user_id == SLACKBOT
    email = (data.get("profile") or {}).get("email")
    foreign = bool(
        team_id
        and data.get("team_id")
        and data.get("team_id") != team_id
        and not data.get("enterprise_user")
    )
    refused: Refusal | None = None
    if data.get("deleted"):
        refused = "deactivated"
    elif foreign:
        refused = "outsider"
    elif data.get("is_restricted") or data.get("is_ultra_restricted"):
        refused = "guest"
    elif not (isinstance(email, str) and "@" in email) or data.get("is_email_confirmed") is False:
        refused = "unverified"
    trusted = refused is None and not bot
    return SlackUser(id=user_id, email=str(email).strip().lower() if trusted else None, bot=bot,
                     refused=None if bot else refused)  # fmt: skip


class SlackPeople:
    """Slack users <-> directory people, through the Web API and the adapter's records."""

    def __init__(
        self,
        client: AsyncWebClient,
        state: SlackState,
        directory: Directory,
        now: Callable[[], datetime],
        ttl: timedelta,
    ) -> None:
        self._client = client
        self._state = state
        self._directory = directory
        self._now = now
        self._ttl = ttl
        self._cache: dict[str, tuple[SlackUser, datetime]] = {}
        self._team: str | None = None

    async def team_id(self) -> str | None:
        """The workspace the desk is installed in (`auth.test`, asked once)."""
        if self._team is None:
            answer = await self._client.auth_test()
            self._team = str(answer.get("team_id") or "") or None
        return self._team

    async def user(self, user_id: str, *, fresh: bool = False) -> SlackUser:
        """The Slack user behind an id, from `users.info` (cached for the TTL; `fresh` asks
        Slack again, for a sensitive step: a click that may approve, undo or act)."""
        now = self._now()
        cached = self._cache.get(user_id)
        if cached is not None and cached[1] > now and not fresh:
            return cached[0]
        try:
            answer = await self._client.users_info(user=user_id)
            found = slack_user(dict(answer.get("user") or {}), await self.team_id())
        except SlackApiError as exc:
            if _error(exc) not in {"user_not_found", "user_not_visible"}:
                raise
            found = SlackUser(id=user_id, email=None)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
        self._cache[user_id] = (found, now + self._ttl)
        return found

    async def user_id(self, username: str) -> str | None:
        """The Slack user id of a directory person (by their e-mail), or None when they are
        not in this Slack workspace."""
        known = await self._state.user_id(username)
        if known is not None:
            return known
        person = await self._directory.person(username)
        if person is None or not person.email:
            return None
        try:
            answer = await self._client.users_lookupByEmail(email=person.email)
        except SlackApiError as exc:
            if _error(exc) == "users_not_found":
                log.info("slack.person_not_in_slack", person=username)
                return None
            raise
        user_id = str((answer.get("user") or {}).get("id") or "")
        if not user_id:
            return None
        await self._state.remember_user_id(username, user_id)
        return user_id

    async def dm_channel(self, username: str) -> str | None:
        """The DM channel between the desk and a directory person (opened if need be)."""
        user_id = await self.user_id(username)
        if user_id is None:
            return None
        known = await self._state.dm_channel(user_id)
        if known is not None:
            return known
        answer = await self._client.conversations_open(users=user_id)
        channel = str((answer.get("channel") or {}).get("id") or "")
        if not channel:
            return None
        await self._state.remember_dm_channel(user_id, channel)
        return channel


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "")
