"""What the Teams adapter keeps in Redis, beside the rest of the desk's state.

- conversation references: where to post into a conversation later (proactive messages), by
  Teams conversation id and, for a person's one-to-one chat with the bot, by username;
- Teams accounts as the members lookup described them (by Teams user id, and by the username
  they resolved to, so the desk can open a chat with someone who never wrote to it);
- where each desk message was posted (conversation and activity id), to update it in place;
- the on-call channel thread of each case, and the case of each thread;
- the teams the app is installed in, whose members the desk can look people up among.

No botbuilder here: a conversation reference is kept as the handful of fields the desk needs."""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from bot.store import Store

ConversationKind = Literal["personal", "channel", "groupChat"]

ACCOUNT_TTL = 24 * 3600  # a members lookup is repeated daily (names and UPNs change)
POST_TTL = 90 * 24 * 3600  # approval cards wait days; updates come at most weeks later
THREAD_TTL = 180 * 24 * 3600
UNREACHABLE_TTL = 3600  # someone not found in Teams is looked up again after an hour


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ConversationRef(_Record):
    """The parts of a Bot Framework conversation reference needed to post into a conversation
    without an inbound activity: the conversation, the service that hosts it, the tenant."""

    conversation_id: str
    service_url: str
    kind: ConversationKind = "personal"
    tenant_id: str | None = None
    channel_id: str = "msteams"
    bot_id: str | None = None
    bot_name: str | None = None


class TeamsAccount(_Record):
    """A Teams user as the members lookup describes them."""

    id: str  # the bot-specific Teams user id ("29:...")
    name: str | None = None
    aad_object_id: str | None = None
    user_principal_name: str | None = None
    email: str | None = None
    tenant_id: str | None = None
    user_role: str | None = None  # "user", or "guest" for a guest of the tenant

    def addresses(self) -> list[str]:
        """The e-mail addresses to look the user up by in the directory, best first."""
        found: list[str] = []
        for address in (self.email, self.user_principal_name):
            if address and "@" in address and address.strip().lower() not in found:
                found.append(address.strip().lower())
        return found


class Posted(_Record):
    """Where a desk message went: its conversation and the activity id Teams gave it."""

    conversation: ConversationRef
    activity_id: str


class Service(_Record):
    """The Bot Connector the bot last heard from, and who the bot is there."""

    service_url: str
    tenant_id: str | None = None
    bot_id: str | None = None
    bot_name: str | None = None


R = TypeVar("R", bound=_Record)


class TeamsState:
    """The Teams adapter's records under its own namespace of the desk's store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._redis = store.redis

    async def _get(self, model: type[R], *key: str) -> R | None:
        raw = await self._redis.get(self.store.key(*key))
        return None if raw is None else model.model_validate_json(raw)

    async def _set(self, record: _Record, *key: str, ttl: int | None = None) -> None:
        await self._redis.set(self.store.key(*key), record.model_dump_json(), ex=ttl)

    # --- conversations ----------------------------------------------------------------
    async def remember_conversation(self, ref: ConversationRef) -> None:
        await self._set(ref, "conversation", ref.conversation_id)

    async def conversation(self, conversation_id: str) -> ConversationRef | None:
        return await self._get(ConversationRef, "conversation", conversation_id)

    async def remember_dm(self, username: str, ref: ConversationRef) -> None:
        await self._set(ref, "dm", username)
        await self.remember_conversation(ref)
        await self._redis.delete(self.store.key("unreachable", username))

    async def dm(self, username: str) -> ConversationRef | None:
        """The one-to-one chat between `username` and the bot, if the desk knows it."""
        return await self._get(ConversationRef, "dm", username)

    # --- accounts ---------------------------------------------------------------------
    async def remember_account(self, account: TeamsAccount, username: str | None = None) -> None:
        await self._set(account, "account", account.id, ttl=ACCOUNT_TTL)
        if username is not None:
            await self._set(account, "account-of", username)

    async def account(self, teams_user_id: str) -> TeamsAccount | None:
        return await self._get(TeamsAccount, "account", teams_user_id)

    async def account_of(self, username: str) -> TeamsAccount | None:
        """The Teams account of a directory person, as last seen."""
        return await self._get(TeamsAccount, "account-of", username)

    async def mark_unreachable(self, username: str) -> None:
        await self._redis.set(self.store.key("unreachable", username), "1", ex=UNREACHABLE_TTL)

    async def unreachable(self, username: str) -> bool:
        return bool(await self._redis.exists(self.store.key("unreachable", username)))

    # --- posted messages --------------------------------------------------------------
    async def remember_post(self, message_id: str, posted: Posted) -> None:
        await self._set(posted, "posted", message_id, ttl=POST_TTL)

    async def post(self, message_id: str) -> Posted | None:
        """Where the desk message `message_id` was posted, if this adapter posted it."""
        return await self._get(Posted, "posted", message_id)

    # --- case threads -----------------------------------------------------------------
    async def remember_thread(self, case_id: str, ref: ConversationRef) -> None:
        await self._set(ref, "thread", case_id, ttl=THREAD_TTL)
        await self.remember_conversation(ref)
        key = self.store.key("thread-case", ref.conversation_id)
        await self._redis.set(key, case_id, ex=THREAD_TTL)

    async def thread(self, case_id: str) -> ConversationRef | None:
        """The on-call channel thread of a case."""
        return await self._get(ConversationRef, "thread", case_id)

    async def case_of_thread(self, conversation_id: str) -> str | None:
        """The case whose thread a channel conversation is, if any."""
        found = await self._redis.get(self.store.key("thread-case", conversation_id))
        return None if found is None else str(found)

    # --- teams the app is installed in ----------------------------------------------
    async def remember_team(self, team_id: str) -> None:
        await self._redis.sadd(self.store.key("teams"), team_id)

    async def teams(self) -> list[str]:
        """The teams the bot has heard from, where people can be looked up by e-mail."""
        return sorted(str(team) for team in await self._redis.smembers(self.store.key("teams")))

    # --- the service ------------------------------------------------------------------
    async def remember_service(self, service: Service) -> None:
        await self._set(service, "service")

    async def service(self) -> Service | None:
        return await self._get(Service, "service")


__all__ = ["ConversationKind", "ConversationRef", "Posted", "Service", "TeamsAccount", "TeamsState"]
