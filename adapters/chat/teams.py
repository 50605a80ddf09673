"""Microsoft Teams: the desk as a Teams bot, on botbuilder-core with aiohttp.

Inbound, `POST /api/messages` on the desk's own aiohttp app: the Bot Framework JWT is checked
first (`teams_auth`: a missing, forged, expired or foreign token gets 401, never 500), then the
activity is handed to the adapter's `TurnSink` (the inbox, when serving) and only then does the
Bot Connector get its 202, well inside Teams' 15 seconds; an activity the inbox cannot keep
gets 503, so the connector delivers it again. A worker takes it out (`process`) and runs it
through botbuilder's `CloudAdapter.process_activity`. A message becomes a `Turn`
(an `/itdesk ...` message a command, a submitted card a click attributed to the activity's
sender); the sender's Teams account (`members/{id}`) names the directory person by its e-mail
or UPN. The desk drops duplicate deliveries: a turn's event id is the activity's id within its
conversation.

Outbound, the desk's effects go where `teams_outbound` decides, as Adaptive Cards
(`teams_cards`), through botbuilder's Bot Connector client (`BotConnector`), with the bot's
token fetched without blocking the event loop (`teams_tokens`); conversation references and
posted activity ids are kept in Redis (`teams_state`).

With no app id the adapter refuses to start unless `ITDESK_TEAMS_ALLOW_UNAUTHENTICATED=true`
asks for local, unauthenticated use, and then says so loudly: anyone who can reach the
endpoint can make the desk act for any Teams user and post to any `serviceUrl`.

This module and `teams_tokens` (the bot's credentials and connector clients) are the only
ones that import botbuilder: its Python SDK is archived in favour of the Microsoft 365 Agents
SDK, and moving must stay a change to these two files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import structlog
from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
)
from botbuilder.schema.teams import TeamsChannelAccount
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthenticationFactory,
    ClaimsIdentity,
)
from botframework.connector.models import ErrorResponseException

from adapters.chat.teams_auth import BotFrameworkTokens, KeysUnavailable, Unauthorized, bearer_token
from adapters.chat.teams_cards import (
    CONTENT_TYPE,
    adaptive_card,
    click_of,
    command_of,
    message_text,
    plain_text,
    summary,
)
from adapters.chat.teams_outbound import TeamsOutbound
from adapters.chat.teams_pace import BUSY, ConnectorBusy
from adapters.chat.teams_state import (
    ConversationKind,
    ConversationRef,
    Posted,
    Service,
    TeamsAccount,
    TeamsState,
)
from adapters.chat.teams_tokens import (
    BotConnectors,
    CachedTokenFactory,
    GivenToken,
    bot_connector_tokens,
    bot_identity,
)
from bot import texts
from bot.clock import Clock
from bot.inbound import BackgroundSink, InboxUnavailable, TurnSink, work_through
from bot.models import Address, Effect, Person, Reply, Send, Turn, TurnKind, new_message_id
from bot.outbound import Outbound
from bot.ports import Directory
from bot.settings import Settings
from bot.store import Store
from bot.turns import TurnHandler

log = structlog.get_logger("itdesk.teams")

PLATFORM = "msteams"
ROUTE = "/api/messages"
HANDLED = frozenset(
    {ActivityTypes.message, ActivityTypes.conversation_update, ActivityTypes.installation_update}
)
SHUTDOWN_GRACE_SECONDS = 10.0


class TeamsConfigError(Exception):
    """The Teams adapter cannot run with this configuration."""


class _LookupFailed(Exception):
    """The Bot Connector could not say who sent an activity (unreachable, or an error)."""


# --- the adapter --------------------------------------------------------------------------


class TeamsChat:
    """The Teams adapter: the `/api/messages` route on the desk's app, and an `Outbound` that
    posts the desk's effects into Teams."""

    def __init__(
        self,
        desk: TurnHandler,
        directory: Directory,
        store: Store,
        settings: Settings,
        *,
        clock: Clock,
        oncall_alias: str,
        outbound: Outbound | None = None,
        outbound_token: GivenToken | None = None,
        sink: TurnSink | None = None,
    ) -> None:
        """`outbound` receives the effects of Teams turns (the runtime passes its fan-out, so
        that an approval card for someone on another platform reaches them there); by default
        this adapter delivers them itself. `outbound_token`, when given, supplies the Bearer
        token for calls to the Bot Connector instead of Microsoft Entra ID (tests; tokens
        obtained elsewhere)."""
        self.app_id = settings.teams_app_id or ""
        if not self.app_id and not settings.teams_allow_unauthenticated:
            raise TeamsConfigError(
                "Teams needs ITDESK_TEAMS_APP_ID and ITDESK_TEAMS_APP_PASSWORD "
                "(or ITDESK_TEAMS_ALLOW_UNAUTHENTICATED=true for local use only)"
            )
        self.desk = desk
        self.directory = directory
        self.clock = clock
        self.state = TeamsState(store)
        self.tenant_id = settings.teams_tenant_id
        self.tokens: BotFrameworkTokens | None = None
        if self.app_id:
            metadata = str(settings.teams_openid_metadata_url)
            self.tokens = BotFrameworkTokens(self.app_id, metadata)
        # the Bot Connector's token, fetched asynchronously and kept (`teams_tokens`)
        self.connector_tokens = bot_connector_tokens(
            settings, outbound_token, clock=lambda: clock.now().timestamp()
        )
        auth = BotFrameworkAuthenticationFactory.create(
            credential_factory=CachedTokenFactory(self.app_id, self.connector_tokens)
        )
        self.adapter = CloudAdapter(auth)
        self.connectors = BotConnectors(auth, self.app_id, self.connector_tokens)
        default_service = Service(
            service_url=str(settings.teams_service_url),
            tenant_id=self.tenant_id,
            bot_id=f"28:{self.app_id}" if self.app_id else None,
        )
        self.delivery = TeamsOutbound(
            self.state,
            BotConnector(self.connectors),
            directory,
            desk_channel=oncall_alias,
            teams_channel=settings.teams_oncall_channel,
            default_service=default_service,
            tenant_id=self.tenant_id,
        )
        self._turn_effects: Outbound = outbound or self
        self._background = BackgroundSink()  # the work, when no sink is given
        self._sink: TurnSink = sink or self._background
        if not self.app_id:
            log.warning(
                "teams.UNAUTHENTICATED",
                message="Teams adapter running WITHOUT authentication "
                "(ITDESK_TEAMS_ALLOW_UNAUTHENTICATED=true): anyone who can reach "
                f"{ROUTE} can act as any Teams user and make the desk post to any "
                "serviceUrl. Local use only; set ITDESK_TEAMS_APP_ID/PASSWORD in production.",
            )

    def mount(self, app: web.Application) -> None:
        """Add `POST /api/messages` to `app`; in-flight work finishes when the app stops."""
        app.router.add_post(ROUTE, self._messages)
        app.on_cleanup.append(self._cleanup)

    async def idle(self) -> None:
        """Wait until every activity this process took on so far has been handled."""
        await self._background.settled()

    async def _cleanup(self, app: web.Application) -> None:
        try:
            async with asyncio.timeout(SHUTDOWN_GRACE_SECONDS):
                await self.idle()
        except TimeoutError:
            log.warning("teams.shutdown_unfinished")
            self._background.cancel()
        await self.connectors.close()
        if self.tokens is not None:
            await self.tokens.close()

    # --- inbound ----------------------------------------------------------------------
    async def _messages(self, request: web.Request) -> web.StreamResponse:
        authorization = request.headers.get("Authorization")
        try:
            if self.tokens is not None:
                bearer_token(authorization)  # refuse token-less requests before reading them
            activity = await _activity_of(request)
            if isinstance(activity, web.Response):
                return activity
            claims = await self._authenticate(authorization, activity)
        except Unauthorized as exc:
            log.warning("teams.unauthorized", reason=exc.reason, remote=request.remote)
            return _error(401, "unauthorized", "The request is not authenticated.")
        except KeysUnavailable:
            return _error(503, "keys_unavailable", "Cannot verify tokens right now; retry.")
        tenant = _tenant_of(activity)
        if self.tenant_id and tenant != self.tenant_id:
            log.warning("teams.foreign_tenant", tenant=tenant)
            return _error(403, "forbidden_tenant", "This bot serves another tenant.")
        if activity.type == ActivityTypes.invoke:
            return web.json_response({}, status=200)  # the desk's cards submit messages
        if activity.type in HANDLED:
            conversation = str(getattr(activity.conversation, "id", "") or "")
            # the body as sent: botbuilder's serialize() drops what it has no field for
            # (a mention's text, which the desk strips from the message)
            payload = {"activity": await request.json(), "claims": claims}
            try:
                await self._sink.accept(PLATFORM, conversation, payload, self)
            except InboxUnavailable as exc:
                log.warning("teams.not_kept", error=str(exc))
                return _error(503, "unavailable", "The activity could not be kept; retry.")
        return web.Response(status=202)

    async def _authenticate(self, authorization: str | None, activity: Any) -> dict[str, Any]:
        if self.tokens is None:
            return {}
        return await self.tokens.verify(
            authorization,
            channel_id=str(activity.channel_id or ""),
            service_url=str(activity.service_url or ""),
        )

    # --- the work of one activity (`bot.inbound.Processor`) ---------------------------
    async def process(self, payload: dict[str, Any], delivery: str | None) -> None:
        """Run one activity taken in through botbuilder; raises when it should be tried
        again."""
        activity = Activity().deserialize(payload["activity"])
        claims: dict[str, Any] = payload.get("claims") or {}
        result = AuthenticateRequestResult()
        result.claims_identity = (
            ClaimsIdentity(claims, True) if claims else bot_identity(self.app_id)
        )
        result.audience = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        result.connector_factory = self.connectors

        async def on_turn(context: TurnContext) -> None:
            await self._on_turn(context, delivery)

        await self.adapter.process_activity(result, activity, on_turn)

    async def give_up(self, payload: dict[str, Any]) -> None:
        """Tell the person their message could not be handled and a human will follow up."""
        activity = Activity().deserialize(payload["activity"])
        conversation = str(getattr(activity.conversation, "id", "") or "")
        reply = Reply(id=new_message_id(), text=texts.say("inbox.gave_up"))
        await self.delivery.deliver([Send(to=Address(conversation=conversation), reply=reply)])

    async def _on_turn(self, context: TurnContext, delivery: str | None) -> None:
        activity = context.activity
        await self.state.remember_service(
            Service(
                service_url=activity.service_url,
                tenant_id=_tenant_of(activity),
                bot_id=activity.recipient.id if activity.recipient else None,
                bot_name=activity.recipient.name if activity.recipient else None,
            )
        )
        team = _team_of(activity)
        if team is not None:
            await self.state.remember_team(team)
        if activity.type == ActivityTypes.message:
            await self._on_message(context, delivery)
        else:
            await self._on_install(context)

    async def _on_message(self, context: TurnContext, delivery: str | None) -> None:
        activity = context.activity
        ref = _reference_of(activity)
        await self.state.remember_conversation(ref)
        try:
            account = await self._sender(context)
        except _LookupFailed:
            # Not knowing who wrote is not "you are not in the directory": ask for a retry.
            reply = Reply(id=new_message_id(), text=texts.say("try_again"))
            await self.delivery.deliver(
                [Send(to=Address(conversation=ref.conversation_id), reply=reply)]
            )
            return
        guest = account is not None and (account.user_role or "").lower() == "guest"
        person, email = (None, None) if guest else await self._person(account)
        if account is not None and person is not None:
            await self.state.remember_account(account, person.username)
            if ref.kind == "personal":
                await self.state.remember_dm(person.username, ref)
        turn = await self._turn(activity, ref, email)
        if turn is None:
            return
        if guest:  # a guest of the tenant is not looked up, whatever address they carry
            turn = turn.model_copy(update={"refused": "guest", "user_email": None})
        await work_through(self.desk, turn, delivery, self._turn_effects)

    async def _on_install(self, context: TurnContext) -> None:
        """The app added to someone's personal scope: keep the chat for proactive messages."""
        activity = context.activity
        ref = _reference_of(activity)
        bot_id = activity.recipient.id if activity.recipient else None
        added = activity.type == ActivityTypes.installation_update and activity.action in {
            "add",
            "add-upgrade",
        }
        added = added or any(m.id == bot_id for m in activity.members_added or [])
        if ref.kind != "personal" or not added or activity.from_property is None:
            return
        try:
            account = await self._sender(context)
        except _LookupFailed:
            return  # the person is remembered when they first write instead
        person, _ = await self._person(account)
        if account is not None and person is not None:
            await self.state.remember_account(account, person.username)
            await self.state.remember_dm(person.username, ref)
            log.info("teams.installed", person=person.username)

    async def _sender(self, context: TurnContext) -> TeamsAccount | None:
        """The sender's Teams account: cached, or from the `members/{id}` lookup; None for
        someone the lookup does not know, `_LookupFailed` when it could not be made."""
        user = context.activity.from_property
        if user is None or not user.id:
            return None
        # a click may approve, undo or act: who pressed it is looked up again
        cached = None if click_of(context.activity.value) else await self.state.account(user.id)
        if cached is not None:
            return cached
        try:
            member = await TeamsInfo.get_member(context, user.id)
        except ErrorResponseException as exc:
            if _status_of(exc) == 404:
                return None
            if _status_of(exc) == 401:
                self.connectors.refused()  # the next call fetches a new token
            log.warning("teams.member_lookup_failed", status=_status_of(exc))
            raise _LookupFailed from exc
        except Exception as exc:
            log.warning("teams.member_lookup_failed", error=type(exc).__name__)
            raise _LookupFailed from exc
        account = _account_of(_teams_member(member), _tenant_of(context.activity))
        await self.state.remember_account(account)
        return account

    async def _person(self, account: TeamsAccount | None) -> tuple[Person | None, str | None]:
        """The directory person of a Teams account (by the Entra object id where the
        directory records it, else by UPN or e-mail), and the address that found them."""
        if account is not None and account.aad_object_id:
            found = await self.directory.person_by_cloud_id(account.aad_object_id)
            if found is not None:
                return found, found.email
        for address in account.addresses() if account else []:
            person = await self.directory.person_by_email(address)
            if person is not None:
                return person, address
        return None, None

    async def _turn(self, activity: Any, ref: ConversationRef, email: str | None) -> Turn | None:
        conversation_id = ref.conversation_id
        thread = await self.state.case_of_thread(conversation_id)
        fields: dict[str, Any] = {
            "platform": PLATFORM,
            # Teams activity ids are unique within a conversation, not across conversations
            "event_id": f"{conversation_id}|{activity.id or uuid.uuid4().hex}",
            "user_id": activity.from_property.id,
            "user_email": email,
            "conversation_id": conversation_id,
            "thread": thread,
            "received_at": self.clock.now(),
        }
        click = click_of(activity.value)
        if click is not None:
            return Turn(kind=TurnKind.CLICK, action=click.action, ref=click.ref, **fields)
        text = plain_text(activity.text or "", _bot_mentions(activity))
        if not text:
            return None
        command = command_of(text)
        if command is not None:
            return Turn(kind=TurnKind.COMMAND, text=command, **fields)
        if ref.kind != "personal" and thread is None:
            # Requests are private: outside a case thread, channels only carry commands and
            # clicks; a request typed in a channel is not read.
            log.info("teams.channel_message_ignored", conversation_kind=ref.kind)
            return None
        return Turn(kind=TurnKind.MESSAGE, text=text, **fields)

    # --- outbound ---------------------------------------------------------------------
    async def deliver(self, effects: Sequence[Effect]) -> None:
        """Post the desk's effects into Teams (see `teams_outbound`)."""
        await self.delivery.deliver(effects)

    async def reaches(self, username: str) -> bool:
        """Whether the bot has, or can open, a one-to-one chat with the person (`Reach`):
        not someone who never installed the app where it cannot be installed for them."""
        return await self.delivery.dm(username) is not None


class BotConnector:
    """The Bot Connector calls of `teams_outbound.Connector`, with botbuilder's client."""

    def __init__(self, connectors: BotConnectors) -> None:
        self._connectors = connectors

    async def send(self, ref: ConversationRef, reply: Reply) -> str:
        client = await self._connectors.create(ref.service_url)
        with _busy_when_refused(self._connectors):
            response = await client.conversations.send_to_conversation(
                ref.conversation_id, _outgoing(reply, ref)
            )
        return str(response.id)

    async def update(self, posted: Posted, reply: Reply) -> None:
        ref = posted.conversation
        activity = _outgoing(reply, ref)
        activity.id = posted.activity_id
        client = await self._connectors.create(ref.service_url)
        with _busy_when_refused(self._connectors):
            await client.conversations.update_activity(
                ref.conversation_id, posted.activity_id, activity
            )

    async def member(
        self, service: Service, conversation_id: str, user: str
    ) -> TeamsAccount | None:
        client = await self._connectors.create(service.service_url)
        try:
            with _busy_when_refused(self._connectors):
                member = await client.conversations.get_conversation_member(conversation_id, user)
        except ErrorResponseException as exc:
            if _status_of(exc) == 401:
                raise  # says nothing about the member
            log.info("teams.member_not_found", status=_status_of(exc))
            return None
        return _account_of(_teams_member(member), service.tenant_id)

    async def open_dm(
        self, service: Service, account: TeamsAccount, tenant_id: str | None
    ) -> ConversationRef | None:
        params = ConversationParameters(
            is_group=False,
            bot=_bot_account(service),
            members=[ChannelAccount(id=account.id)],
            tenant_id=tenant_id,
            channel_data={"tenant": {"id": tenant_id}} if tenant_id else None,
        )
        client = await self._connectors.create(service.service_url)
        with _busy_when_refused(self._connectors):
            created = await client.conversations.create_conversation(params)
        if not created or not created.id:
            return None
        return ConversationRef(
            conversation_id=created.id,
            service_url=created.service_url or service.service_url,
            kind="personal",
            tenant_id=tenant_id,
            bot_id=service.bot_id,
            bot_name=service.bot_name,
        )

    async def open_thread(
        self, service: Service, channel: str, tenant_id: str | None, reply: Reply
    ) -> Posted:
        ref = ConversationRef(
            conversation_id=channel,
            service_url=service.service_url,
            kind="channel",
            tenant_id=tenant_id,
            bot_id=service.bot_id,
            bot_name=service.bot_name,
        )
        channel_data: dict[str, Any] = {"channel": {"id": channel}}
        if tenant_id:
            channel_data["tenant"] = {"id": tenant_id}
        params = ConversationParameters(
            is_group=True,
            bot=_bot_account(service),
            channel_data=channel_data,
            activity=_outgoing(reply, ref),
            tenant_id=tenant_id,
        )
        client = await self._connectors.create(service.service_url)
        with _busy_when_refused(self._connectors):
            created = await client.conversations.create_conversation(params)
        root = str(created.activity_id)
        # a reply in the thread is posted to "<channel>;messageid=<root activity id>"
        thread_id = created.id if created.id and ";messageid=" in created.id else None
        thread = ref.model_copy(
            update={"conversation_id": thread_id or f"{channel};messageid={root}"}
        )
        return Posted(conversation=thread, activity_id=root)


# --- translation helpers --------------------------------------------------------------------


async def _activity_of(request: web.Request) -> Any:
    """The request's activity, or the error response for a body that is not one."""
    if request.content_type != "application/json":
        return _error(415, "unsupported_media_type", "Send the activity as application/json.")
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return _error(400, "malformed_json", "The body is not valid JSON.")
    if not isinstance(body, dict):
        return _error(400, "invalid_activity", "The body must be an activity object.")
    try:
        activity = Activity.deserialize(body)
    except Exception:
        return _error(400, "invalid_activity", "The body is not a Bot Framework activity.")
    complete = (
        activity.type
        and activity.service_url
        and activity.channel_id
        and activity.conversation is not None
        and activity.conversation.id
        and activity.from_property is not None
        and activity.from_property.id
    )
    if not complete:
        return _error(
            400,
            "invalid_activity",
            "The activity lacks type, serviceUrl, channelId, conversation or from.",
        )
    return activity


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


def _tenant_of(activity: Any) -> str | None:
    data = activity.channel_data
    if isinstance(data, dict):
        tenant = data.get("tenant")
        if isinstance(tenant, dict) and tenant.get("id"):
            return str(tenant["id"])
    conversation = activity.conversation
    return str(conversation.tenant_id) if conversation and conversation.tenant_id else None


def _team_of(activity: Any) -> str | None:
    data = activity.channel_data
    team = data.get("team") if isinstance(data, dict) else None
    return str(team["id"]) if isinstance(team, dict) and team.get("id") else None


def _reference_of(activity: Any) -> ConversationRef:
    conversation = activity.conversation
    kind: ConversationKind = "personal"
    if conversation.conversation_type in {"channel", "groupChat"}:
        kind = conversation.conversation_type
    elif conversation.is_group:
        kind = "groupChat"
    recipient = activity.recipient
    return ConversationRef(
        conversation_id=conversation.id,
        service_url=activity.service_url,
        kind=kind,
        tenant_id=_tenant_of(activity),
        channel_id=activity.channel_id or PLATFORM,
        bot_id=recipient.id if recipient else None,
        bot_name=recipient.name if recipient else None,
    )


def _account_of(member: Any, tenant_id: str | None) -> TeamsAccount:
    return TeamsAccount(
        id=member.id,
        name=member.name,
        aad_object_id=member.aad_object_id,
        user_principal_name=member.user_principal_name,
        email=member.email,
        tenant_id=member.tenant_id or tenant_id,
        user_role=member.user_role,
    )


def _teams_member(member: Any) -> Any:
    """A members lookup result with its Teams fields (UPN, e-mail, Entra object id)."""
    extra = member.additional_properties or {}
    return TeamsChannelAccount.deserialize(dict(member.serialize(), **extra))


def _status_of(exc: Any) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


@contextlib.contextmanager
def _busy_when_refused(connectors: BotConnectors) -> Iterator[None]:
    """A refusal the Bot Connector means as "not now" (429 and the like) as `ConnectorBusy`,
    with its Retry-After, for the outbound side to wait and try again; after a 401 the next
    call fetches a new token."""
    try:
        yield
    except ErrorResponseException as exc:
        status = _status_of(exc)
        if status == 401:
            connectors.refused()
        if status not in BUSY:
            raise
        headers = getattr(exc.response, "headers", None) or {}
        try:
            retry_after: float | None = max(0.0, float(str(headers.get("Retry-After"))))
        except ValueError:  # absent ("None") or not a number of seconds
            retry_after = None
        raise ConnectorBusy(status, retry_after) from exc


def _bot_mentions(activity: Any) -> list[str]:
    """The texts of the activity's @mentions of the bot itself."""
    bot_id = activity.recipient.id if activity.recipient else None
    found = []
    for entity in activity.entities or []:
        props = entity.additional_properties or {}
        mentioned = props.get("mentioned")
        is_bot = isinstance(mentioned, dict) and mentioned.get("id") == bot_id
        if entity.type == "mention" and is_bot:
            found.append(str(props.get("text") or ""))
    return [text for text in found if text]


def _bot_account(service: Service) -> Any:
    return ChannelAccount(id=service.bot_id, name=service.bot_name) if service.bot_id else None


def _outgoing(reply: Reply, ref: ConversationRef) -> Any:
    """The desk's reply as a Teams message activity addressed to `ref`'s conversation."""
    activity = Activity(
        type=ActivityTypes.message,
        text=message_text(reply),
        text_format="plain",  # desk texts and relayed words, shown as written
        summary=summary(reply),
        channel_id=ref.channel_id,
        service_url=ref.service_url,
        conversation=ConversationAccount(
            id=ref.conversation_id,
            tenant_id=ref.tenant_id,
            conversation_type=ref.kind,
            is_group=ref.kind != "personal",
        ),
        from_property=ChannelAccount(id=ref.bot_id, name=ref.bot_name) if ref.bot_id else None,
    )
    if reply.card is not None:
        activity.attachments = [
            Attachment(content_type=CONTENT_TYPE, content=adaptive_card(reply.card))
        ]
    return activity


__all__ = ["PLATFORM", "ROUTE", "TeamsChat", "TeamsConfigError"]
