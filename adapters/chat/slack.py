"""The desk as a Slack app, on slack-bolt's `AsyncApp`.

Inbound, in HTTP mode (`/slack/events` on the desk's aiohttp application: events,
interactivity and the `/itdesk` slash command on one URL) and in Socket Mode (for workspaces
without a public URL). Bolt verifies every HTTP request's signature and answers Slack's URL
check; a listener acknowledges at once (Slack gives three seconds) and the work runs after in
the `TurnSink` the adapter is given (the inbox, when serving): a listener hands the event
over and only then acknowledges it, so an event that could not be kept is answered with 503
and Slack delivers it again. The work happens when a worker takes it out (`process`): who the
person is (`users.info`, verified e-mail), the turn, the desk, the effects. Slack's retried
deliveries carry the same `event_id`, which the desk drops once the first one is done.

Outbound, `adapters.chat.slack_delivery` posts the desk's effects (Block Kit from
`adapters.chat.slack_blocks`), through an outbox in Redis so nothing is lost or doubled.

This module and its `slack_*` siblings are the only code that imports slack_bolt and
slack_sdk; they translate between Slack and the desk's own models and do nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.chat.slack_blocks import CHOICE_VIEW, choice_view
from adapters.chat.slack_delivery import SlackDelivery, transient
from adapters.chat.slack_inbound import (
    COMMAND,
    Incoming,
    from_action,
    from_command,
    from_event,
    from_view,
)
from adapters.chat.slack_people import SlackPeople
from adapters.chat.slack_posting import PREFIX, SlackPace
from adapters.chat.slack_state import SlackState
from bot import texts
from bot.clock import Clock
from bot.inbound import BackgroundSink, InboxUnavailable, TurnSink, work_through
from bot.models import Address, Effect, Reply, Send, Turn, TurnKind, new_message_id
from bot.outbound import Outbound
from bot.ports import Directory
from bot.settings import Settings, SettingsError
from bot.store import Store
from bot.turns import TurnHandler

log = structlog.get_logger("itdesk.slack")

PLATFORM = "slack"
EVENTS_PATH = "/slack/events"
DEFAULT_API_URL = "https://slack.com/api/"
KINDS = {"message": TurnKind.MESSAGE, "command": TurnKind.COMMAND}
REFUSED_TOKEN = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


class SlackConfigError(SettingsError):
    """The Slack configuration cannot work; the message says which variable to set."""


@dataclass(frozen=True)
class SlackConfig:
    """What the Slack adapter needs. `oncall_channel` is the Slack channel id escalation
    threads are posted in; without it escalations do not go to Slack."""

    bot_token: str
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = DEFAULT_API_URL
    oncall_channel: str | None = None
    user_cache: timedelta = timedelta(minutes=10)
    rate_limit_retries: int = 5
    connection_retries: int = 3
    retry_backoff: float = 0.5  # seconds, doubled on each connection retry
    outbox_retry: float = 5.0  # seconds before the outbox is tried again after a failure
    choice_inline_max: int = 5  # a choice with more options is a menu in a modal
    socket_ping_interval: float = 10.0
    pace: SlackPace = field(
        default_factory=SlackPace
    )  # how fast messages go out, per channel and workspace

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackConfig:
        """The Slack part of the desk's settings (`ITDESK_SLACK_*`)."""
        if settings.slack_bot_token is None:
            raise SlackConfigError("ITDESK_SLACK_BOT_TOKEN is not set: the Slack app needs it")
        secret, app = settings.slack_signing_secret, settings.slack_app_token
        return cls(
            bot_token=settings.slack_bot_token.get_secret_value(),
            signing_secret=secret.get_secret_value() if secret else None,
            app_token=app.get_secret_value() if app else None,
            api_url=str(settings.slack_api_url),
            oncall_channel=settings.slack_oncall_channel,
        )


class SlackAdapter:
    """Slack in and out for one desk: bolt listeners, the HTTP route, Socket Mode, and the
    `Outbound` that posts the desk's effects.

    `outbound` receives the effects of Slack turns; the runtime passes its fan-out so that,
    say, an approval card for someone who uses the web chat reaches them there too."""

    def __init__(
        self,
        desk: TurnHandler,
        directory: Directory,
        store: Store,
        config: SlackConfig,
        *,
        clock: Clock,
        oncall_alias: str,
        outbound: Outbound | None = None,
        sink: TurnSink | None = None,
    ) -> None:
        if not config.bot_token:
            raise SlackConfigError("ITDESK_SLACK_BOT_TOKEN is not set: the Slack app needs it")
        if not config.signing_secret and not config.app_token:
            raise SlackConfigError(
                "ITDESK_SLACK_SIGNING_SECRET is not set: Slack's HTTP mode verifies every "
                "request with it (Basic Information > App Credentials > Signing Secret); or "
                "set ITDESK_SLACK_APP_TOKEN to use Socket Mode instead"
            )
        self.desk = desk
        self.clock = clock
        self.config = config
        self.client = web_client(config)
        self.state = SlackState(store)
        self.people = SlackPeople(
            self.client, self.state, directory, self.clock.now, config.user_cache
        )
        self.delivery = SlackDelivery(
            web_client(config, rate_limit_retries=0),  # the outbox waits out 429s itself
            self.state,
            self.people,
            oncall_alias=oncall_alias,
            oncall_channel=config.oncall_channel,
            inline_max=config.choice_inline_max,
            retry_delay=config.outbox_retry,
            pace=config.pace,
            rate_limit_retries=config.rate_limit_retries,
        )
        self._outbound: Outbound = outbound or self
        self.bolt = self._bolt_app()
        self._background = BackgroundSink()  # the outbox's retries; the work without a sink
        self._sink: TurnSink = sink or self._background
        self._socket: SocketModeClient | None = None

    # --- wiring -----------------------------------------------------------------------
    def _bolt_app(self) -> AsyncApp:
        app = AsyncApp(
            client=self.client,
            signing_secret=self.config.signing_secret or "",
            # the listeners only acknowledge and hand over to a task of ours, so bolt may
            # answer once they return
            process_before_response=True,
            # nothing here uses custom workflow steps or bolt's `say`/assistant arguments:
            # skip the middleware that prepares them for every request (verification stays)
            attaching_function_token_enabled=False,
            attaching_conversation_kwargs_enabled=False,
            logger=logging.getLogger("itdesk.slack.bolt"),
        )
        app.event("message")(self._on_message)
        app.event(re.compile(r".*"))(self._on_other_event)
        app.action(re.compile(r"^itdesk"))(self._on_action)
        app.command(COMMAND)(self._on_command)
        app.view(CHOICE_VIEW)(self._on_view)
        app.error(self._on_error)
        return app

    def install(self, app: web.Application) -> None:
        """Mount the HTTP route (when a signing secret is set) and start and stop Socket Mode
        (when an app token is set) and the outbox with the application."""
        if self.config.signing_secret:
            self.mount(app)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)

    def mount(self, app: web.Application) -> None:
        """Serve Slack's requests at `/slack/events`. Refuses to without a signing secret:
        every request would be refused one by one instead."""
        if not self.config.signing_secret:
            raise SlackConfigError(
                "ITDESK_SLACK_SIGNING_SECRET is not set: Slack's HTTP mode at "
                f"{EVENTS_PATH} verifies every request with it"
            )
        app.router.add_post(EVENTS_PATH, self.handle_http)

    async def _on_startup(self, app: web.Application) -> None:
        await self.start()

    async def _on_cleanup(self, app: web.Application) -> None:
        await self.stop()

    async def start(self) -> None:
        """Check the bot token, connect Socket Mode (with an app token), and post what a
        previous run left queued."""
        await self.check()
        if self.config.app_token and self._socket is None:
            self._socket = SocketModeClient(
                app_token=self.config.app_token,
                web_client=self.client,
                auto_reconnect_enabled=True,
                ping_interval=self.config.socket_ping_interval,
                logger=logging.getLogger("itdesk.slack.socket"),
            )
            self._socket.socket_mode_request_listeners.append(self.handle_socket)
            await self._socket.connect()  # type: ignore[no-untyped-call]  # slack_sdk's
            log.info("slack.socket_mode_connected")
        self._background.spawn(self._flush())

    async def stop(self) -> None:
        """Disconnect, let turns under way finish, stop retrying the outbox."""
        if self._socket is not None:
            await self._socket.close()  # type: ignore[no-untyped-call]
            self._socket = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.settled()
        self._background.cancel()
        await self.delivery.close()

    # --- inbound: HTTP and Socket Mode ------------------------------------------------
    async def handle_http(self, request: web.Request) -> web.Response:
        """One request from Slack: translated to bolt's request, bolt's response back."""
        headers: dict[str, str | Sequence[str]] = {}
        for name in request.headers:
            headers[name.lower()] = request.headers.getall(name)
        bolt_request = AsyncBoltRequest(
            body=await request.text(), query=request.query_string, headers=headers
        )
        return aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def handle_socket(
        self, client: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        """One envelope from Socket Mode: dispatched to bolt, acknowledged on the socket."""
        headers: dict[str, str | Sequence[str]] = {}
        if request.retry_attempt is not None:
            headers["x-slack-retry-num"] = str(request.retry_attempt)
        if request.retry_reason is not None:
            headers["x-slack-retry-reason"] = request.retry_reason
        bolt_request = AsyncBoltRequest(
            body=request.payload, mode="socket_mode", headers=headers or None
        )
        response = await self.bolt.async_dispatch(bolt_request)
        if response.status != 200:
            log.warning("slack.socket_not_acknowledged", status=response.status)
            return  # unacknowledged, Slack delivers it again
        payload = json.loads(response.body) if response.body.startswith("{") else None
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload=payload)
        )

    # --- bolt listeners: hand over, then acknowledge ----------------------------------
    async def _on_message(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self._take(from_event(body))
        await ack()

    async def _on_other_event(self, ack: AsyncAck) -> None:
        await ack()

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self._take(from_action(body))
        await ack()

    async def _on_command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self._take(from_command(body))
        await ack()

    async def _on_view(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self._take(from_view(body))
        await ack()  # closes the modal

    async def _take(self, incoming: Incoming | None) -> None:
        if incoming is not None:  # raises InboxUnavailable: no ack, Slack delivers it again
            await self._sink.accept(PLATFORM, incoming.channel, incoming.payload(), self)

    async def _on_error(self, error: Exception, response: BoltResponse) -> None:
        """A listener that could not hand the event over: 503, so Slack delivers it again."""
        if isinstance(error, InboxUnavailable):
            log.warning("slack.not_kept", error=str(error))
            response.status = 503
            response.headers["retry-after"] = ["1"]
        else:
            log.error("slack.listener_failed", error=repr(error))

    async def settled(self) -> None:
        """Wait until the work this process took on so far is done and what it queued is
        posted (tests, shutdown)."""
        await self._background.settled()
        await self.delivery.settled()

    # --- the work of one event (`bot.inbound.Processor`) ------------------------------
    async def process(self, payload: dict[str, Any], delivery: str | None) -> None:
        """Handle one event taken in: raises when it should be tried again."""
        incoming = Incoming(**payload)
        if incoming.kind == "open_choice":
            await self._open_choice(incoming)
            return
        turn = await self.turn(incoming)
        if turn is None:
            return
        await work_through(self.desk, turn, delivery, self._outbound)

    async def give_up(self, payload: dict[str, Any]) -> None:
        """Tell the person their message could not be handled and a human will follow up."""
        incoming = Incoming(**payload)
        reply = Reply(id=new_message_id(), text=texts.say("inbox.gave_up"))
        await self._outbound.deliver(
            [Send(to=Address(conversation=PREFIX + incoming.channel), reply=reply)]
        )

    async def _flush(self) -> None:
        try:
            await self.delivery.flush()
        except Exception:
            log.exception("slack.flush_failed")

    async def turn(self, incoming: Incoming) -> Turn | None:
        """The desk's turn for an inbound Slack event, or None when it is not one: a message
        outside a DM and outside a case's thread, or anything from a bot."""
        thread: str | None = None
        if not incoming.direct and incoming.kind != "command":
            root = incoming.thread_ts or incoming.ts
            thread = await self.state.case_of(incoming.channel, root) if root else None
            if incoming.kind == "message" and (
                thread is None or incoming.channel != self.config.oncall_channel
            ):
                return None
        # a click may approve, undo or act: who pressed it is asked of Slack again
        user = await self.people.user(incoming.user_id, fresh=incoming.kind in {"click", "choice"})
        if user.bot:
            return None
        action = incoming.action
        if incoming.kind == "choice":
            action = await self._choice_action(incoming)
        return Turn(
            platform=PLATFORM,
            event_id=incoming.event_id,
            user_id=incoming.user_id,
            user_email=user.email,
            refused=user.refused,
            conversation_id=PREFIX + incoming.channel,
            kind=KINDS.get(incoming.kind, TurnKind.CLICK),
            text=incoming.text,
            action=action,
            ref=incoming.ref,
            thread=thread,
            received_at=self.clock.now(),
        )

    async def _choice_action(self, incoming: Incoming) -> str | None:
        found = await self.state.choices((incoming.metadata or {}).get("message", ""))
        options = found[1] if found else []
        return next((o.action for o in options if o.ref == incoming.ref), None)

    async def _open_choice(self, incoming: Incoming) -> None:
        """The "Choose…" button: a modal with the choice's options as a menu."""
        found = await self.state.choices(incoming.ref or "")
        if found is None or not incoming.trigger_id:
            return
        title, options = found
        metadata = {
            "message": incoming.ref or "",
            "channel": incoming.channel,
            "ts": incoming.ts or "",
            "thread_ts": incoming.thread_ts or "",
        }
        view = choice_view(title, [(o.label, o.ref) for o in options], metadata)
        await self.client.views_open(trigger_id=incoming.trigger_id, view=view)

    # --- outbound ---------------------------------------------------------------------
    async def deliver(self, effects: Sequence[Effect]) -> None:
        """Post the effects this adapter can reach (the `Outbound` protocol)."""
        await self.delivery.deliver(effects)

    async def reaches(self, username: str) -> bool:
        """Whether the person is in this workspace and a DM with them opens (`Reach`)."""
        try:
            return await self.people.dm_channel(username) is not None
        except SlackApiError as exc:
            if transient(exc):
                raise
            log.info("slack.dm_refused", person=username, error=exc.response.get("error"))
            return False

    async def check(self) -> None:
        """Ask Slack who the desk is (`auth.test`). A refused token is the operator's to fix
        and stops start-up saying so; Slack being unreachable only delays the first turn."""
        try:
            answer = await self.client.auth_test()
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in REFUSED_TOKEN:
                raise SlackConfigError(
                    f"ITDESK_SLACK_BOT_TOKEN was refused by Slack ({error}): use the Bot User "
                    "OAuth Token (xoxb-...) from OAuth & Permissions after installing the app"
                ) from None
            log.warning("slack.check_failed", error=error)
            return
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack.unreachable", api_url=self.config.api_url, error=str(exc))
            return
        log.info("slack.ready", bot_user=answer.get("user_id"), team=answer.get("team_id"))


def web_client(config: SlackConfig, *, rate_limit_retries: int | None = None) -> AsyncWebClient:
    """The Web API client: the configured base URL, 429s retried after Retry-After (up to
    `rate_limit_retries` times, by default the configured number), dropped connections
    retried with backoff."""
    base_url = config.api_url if config.api_url.endswith("/") else config.api_url + "/"
    retries = config.rate_limit_retries if rate_limit_retries is None else rate_limit_retries
    handlers: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(
            max_retry_count=config.connection_retries,
            interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=config.retry_backoff),
        )
    ]
    if retries > 0:
        handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=retries))
    return AsyncWebClient(token=config.bot_token, base_url=base_url, retry_handlers=handlers)


def aiohttp_response(response: BoltResponse) -> web.Response:
    """Bolt's response as aiohttp's."""
    content_type = response.headers.get("content-type", ["text/plain"])[0]
    mime = content_type.split(";", 1)[0].strip() or "text/plain"
    headers = {
        name: value
        for name, value in response.first_headers_without_set_cookie().items()
        if name.lower() not in {"content-type", "content-length"}
    }
    return web.Response(
        status=response.status, text=response.body, headers=headers, content_type=mime
    )


__all__ = ["EVENTS_PATH", "PLATFORM", "SlackAdapter", "SlackConfig", "SlackConfigError"]
