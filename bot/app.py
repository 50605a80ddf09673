"""Wiring: everything is built here from one validated `Settings` object, nothing at import
time. `Runtime` owns the Redis connection (and the embedded server), the sandbox world, the
desk, the scheduler and the aiohttp application that serves every endpoint. `Listener` is
the port from the first moment of start-up: it answers "starting" until the runtime is up."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from aiohttp import web
from redis.asyncio import Redis

from bot import texts
from bot.audit_checkpoints import CheckpointFile
from bot.audit_key import audit_key
from bot.clock import Clock, SystemClock
from bot.context import CaseLog
from bot.identity_backends import real_backends
from bot.inbound import InboxSink, Processor
from bot.knowledge import KnowledgeBase
from bot.knowledge_backends import confluence_runbooks
from bot.live_knowledge import LiveRunbooks
from bot.models import Address, Reply, Send, new_message_id
from bot.observability import Metrics, configure_logging, health_routes, starting_routes
from bot.org import Org
from bot.org_cache import OrgCache
from bot.outbound import FanOut
from bot.pipeline import TurnWorker, WorkerConfig
from bot.redis_server import EmbeddedRedis
from bot.reset_page import ResetPage, ResetPageDeps, public_origin
from bot.settings import Settings
from bot.state.audit import AuditLog
from bot.state.conversations import ConversationLocks
from bot.state.inbox import Entry, TurnInbox
from bot.state.reset_forms import ResetForms
from bot.store import Store, connect
from bot.systemturns import SystemTurnDeps, SystemTurns
from bot.ticket_backends import with_ticket_system
from bot.ticket_hooks import mount_ticket_webhooks
from bot.wiring import WiredDesk, build_desk
from bot.world import SandboxWorld

log = structlog.get_logger("itdesk.app")
WORKER_ATTEMPTS = WorkerConfig().max_attempts


async def connect_redis(settings: Settings) -> tuple[Redis, EmbeddedRedis | None]:
    """The configured Redis, or an embedded redis-server under the data directory."""
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(settings.data_dir / "redis")
        url = await embedded.start()
        log.info("redis.embedded", url=url, data_dir=str(settings.data_dir / "redis"))
    redis = connect(
        url, pool_size=settings.redis_pool_size, pool_timeout=settings.redis_pool_timeout
    )
    await redis.ping()
    return redis, embedded


def audit_log(settings: Settings, store: Store, clock: Clock) -> AuditLog:
    """The desk's audit trail, keyed and checkpointed as the settings say."""
    key = audit_key(settings)
    checkpoints = CheckpointFile(settings.audit_checkpoint_path, key, clock)
    return AuditLog(
        store, key, checkpoints=checkpoints, checkpoint_every=settings.audit_checkpoint_every
    )


def reset_page(desk: WiredDesk, settings: Settings | None) -> ResetPage | None:
    """The desk's own password reset page, when its links point at it: the directory sends
    no links of its own and the organisation has no reset portal (`bot.reset_links`)."""
    links = desk.reset_links
    if links is None or not links.config.serves_page:
        return None
    log_ = CaseLog(desk.cases, desk.metrics)
    system = SystemTurns(
        SystemTurnDeps(log_, desk.directory, ConversationLocks(desk.store), desk.outbound)
    )
    public = settings.public_url if settings else None
    return ResetPage(
        ResetPageDeps(
            tokens=links.tokens,
            forms=ResetForms(desk.store, desk.clock),
            directory=desk.directory,
            outbox=links.outbox,
            system=system,
            clock=desk.clock,
            must_change=settings.password_must_change if settings else False,
            origin=public_origin(str(public) if public else None),
        )
    )


@dataclass
class Runtime:
    """A running desk: its state, its world and its web application."""

    settings: Settings
    redis: Redis
    embedded: EmbeddedRedis | None
    store: Store
    clock: Clock
    world: SandboxWorld
    desk: WiredDesk
    metrics: Metrics
    outbound: FanOut
    inbox: TurnInbox
    app: web.Application = field(init=False)
    closing: Callable[[], Awaitable[None]] | None = field(default=None, init=False)
    processors: dict[str, Processor] = field(default_factory=dict)
    live_knowledge: LiveRunbooks | None = field(default=None, init=False)

    @classmethod
    async def start(
        cls, settings: Settings, *, org: Org | None = None, clock: Clock | None = None
    ) -> Runtime:
        configure_logging(settings.log_level, settings.log_format)
        real = settings.directory != "sandbox"
        if org is None and not real:
            if settings.org_file is None:
                raise SystemExit(
                    "no directory configured: set ITDESK_ORG_FILE to a sandbox org file "
                    "(see examples/acme.yaml), or ITDESK_DIRECTORY to ldap, ad, okta or entra"
                )
            cache = OrgCache(settings.cache_directory)
            org = await asyncio.to_thread(cache.load, settings.org_file)
        redis, embedded = await connect_redis(settings)
        store = Store(redis, settings.namespace)
        clock = clock or SystemClock()
        metrics = Metrics()
        outbound = FanOut()
        closing: Callable[[], Awaitable[None]] | None = None
        if real:  # the directory and mail of a real organisation (bot.identity_backends)
            found = await real_backends(settings, store, clock)
            world, ports, closing = found.rest, found.backends, found.close
        else:
            assert org is not None
            world = await SandboxWorld.create(store.child("world"), org, clock)
            ports = world.backends()
        ports, tickets_closing = with_ticket_system(settings, ports, clock)
        closing = _both(closing, tickets_closing)
        local = KnowledgeBase.load(world.knowledge)
        live = await confluence_runbooks(settings, local, clock)
        desk = build_desk(
            store,
            ports,
            clock,
            knowledge=live or local,
            metrics=metrics,
            oncall_channel=settings.oncall_channel,
            outbound=outbound,
            threshold=settings.nlu_threshold,
            settings=settings,
            audit=audit_log(settings, store, clock),
        )
        await desk.warm_up()
        inbox = TurnInbox(store.child("inbox"))
        runtime = cls(
            settings, redis, embedded, store, clock, world, desk, metrics, outbound, inbox
        )
        runtime.closing = closing
        runtime.live_knowledge = live
        runtime.app = runtime._web_app()
        # What start-up built (the org, the model, the indexes) lives as long as the process:
        # out of the collector's way, a full collection pauses a turn for ~1 ms, not ~100 ms.
        gc.freeze()
        return runtime

    def _web_app(self) -> web.Application:
        app = web.Application(client_max_size=1024**2)

        async def ping() -> bool:
            try:
                return bool(await self.redis.ping())
            except Exception:
                return False

        app.add_routes(health_routes(self.metrics, ping))
        page = reset_page(self.desk, self.settings)
        if page is not None:
            page.mount(app)
        if self.settings.web_chat:
            from adapters.chat.web import WebChat
            from adapters.chat.web_sandbox import SandboxPanel

            chat = WebChat(
                self.desk,
                self.desk.directory,
                SandboxPanel(self.world, self.clock),
                self.store.child("web"),
                clock=self.clock,
                oncall_channel=self.desk.oncall_channel,
            )
            self.outbound.add(chat)
            chat.mount(app)
        if self.settings.slack_bot_token is not None:
            from adapters.chat.slack import PLATFORM as PLATFORM_SLACK
            from adapters.chat.slack import SlackAdapter, SlackConfig

            slack = SlackAdapter(
                self.desk,
                self.desk.directory,
                self.store.child("slack"),
                SlackConfig.from_settings(self.settings),
                clock=self.clock,
                oncall_alias=self.desk.oncall_channel,
                outbound=self.outbound,
                sink=InboxSink(self.inbox),
            )
            self.outbound.add(slack)
            self.processors[PLATFORM_SLACK] = slack
            slack.install(app)
        if self.settings.teams_app_id or self.settings.teams_allow_unauthenticated:
            from adapters.chat.teams import PLATFORM as PLATFORM_TEAMS
            from adapters.chat.teams import TeamsChat

            teams = TeamsChat(
                self.desk,
                self.desk.directory,
                self.store.child("teams"),
                self.settings,
                clock=self.clock,
                oncall_alias=self.desk.oncall_channel,
                outbound=self.outbound,
                sink=InboxSink(self.inbox),
            )
            self.outbound.add(teams)
            self.processors[PLATFORM_TEAMS] = teams
            teams.mount(app)
        if self.settings.tickets != "builtin" and self.desk.ticket_sync is not None:
            mount_ticket_webhooks(app, self.settings.tickets, self.desk.ticket_sync)
        app.on_startup.append(self._start_worker)
        app.on_cleanup.append(self._stop_worker)
        return app

    async def _start_worker(self, app: web.Application) -> None:
        self._stop = asyncio.Event()
        await self.desk.recovery.start()  # what a process that died before this one left
        self._workers = [asyncio.create_task(self.desk.scheduler.run_forever(self._stop))]
        if self.live_knowledge is not None:
            self._workers.append(asyncio.create_task(self.live_knowledge.keep_fresh(self._stop)))
        if self.processors:
            worker = TurnWorker(self.inbox, self.processors, metrics=self.metrics,
                                alert=self._alert)  # fmt: skip
            self._workers.append(asyncio.create_task(worker.run(self._stop)))

    async def _stop_worker(self, app: web.Application) -> None:
        self._stop.set()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _alert(self, entry: Entry, error: str) -> None:
        """Tell on-call that a turn was dead-lettered: the person waits for a human."""
        who = str(entry.payload.get("user_id") or entry.conversation)
        text = texts.say("inbox.dead_letter", who=who, source=entry.source,
                         attempts=WORKER_ATTEMPTS, error=error[:200])  # fmt: skip
        to = Address(channel=self.desk.oncall_channel)
        await self.outbound.deliver([Send(to=to, reply=Reply(id=new_message_id(), text=text))])

    async def close(self) -> None:
        await self.desk.close()
        if self.closing is not None:
            await self.closing()  # the directories' connections
        await self.redis.aclose()
        if self.embedded is not None:
            await self.embedded.stop()


def _both(
    first: Callable[[], Awaitable[None]] | None, second: Callable[[], Awaitable[None]] | None
) -> Callable[[], Awaitable[None]] | None:
    if first is None or second is None:
        return first or second

    async def close() -> None:
        await first()
        await second()

    return close


class Listener:
    """The desk's listening socket, bound before the slow part of start-up: until `serve`
    hands it the started runtime's application, every request (a `/healthz` probe among
    them) is answered 503 "starting". The socket stays open through the hand-over, so no
    client is ever refused."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port  # 0: any free port, known once open
        self._socket: socket.socket | None = None
        self._runners: list[web.AppRunner] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def open(self) -> None:
        """Bind and answer "starting" from now on."""
        family, _, _, _, address = socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM
        )[0]
        self._socket = socket.create_server(address[:2], family=family, backlog=128)
        self.port = self._socket.getsockname()[1]
        starting = web.Application()
        starting.add_routes(starting_routes())
        # its own descriptor of the socket: stopping it later leaves the socket listening
        self._runners.append(await _run(starting, self._socket.dup()))

    async def serve(self, app: web.Application) -> None:
        """Serve `app` (its start-up hooks run now), then stop answering "starting"."""
        if self._socket is None:
            raise RuntimeError("open the listener first")
        serving = await _run(app, self._socket)
        starting, self._runners = self._runners, [serving]
        for runner in starting:
            await runner.cleanup()

    async def close(self) -> None:
        while self._runners:
            await self._runners.pop().cleanup()
        if self._socket is not None:
            self._socket.close()


async def _run(app: web.Application, sock: socket.socket) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


async def serve(
    settings: Settings,
    *,
    org_file: Path | None = None,
    workers: int = 1,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the desk until interrupted (or until `stop` is set); `workers` > 1 starts that
    many worker processes in all (this one included) on the same Redis. The port answers at
    once: `/healthz` says "starting" until the desk can answer, then "ok"."""
    configure_logging(settings.log_level, settings.log_format)
    listener = Listener(settings.host, settings.port)
    await listener.open()
    log.info("serve.listening", url=listener.url)
    runtime: Runtime | None = None
    helpers: list[asyncio.subprocess.Process] = []
    try:
        cache = OrgCache(settings.cache_directory)
        org = await asyncio.to_thread(cache.load, org_file) if org_file else None
        runtime = await Runtime.start(settings, org=org)
        await listener.serve(runtime.app)
        for _ in range(workers - 1):
            helpers.append(await _spawn_worker(runtime, org_file))
        print(f"itdesk is running: {listener.url}  (Ctrl-C to stop)", flush=True)
        log.info("serve.started", url=listener.url, workers=workers)
        await _until_stopped(stop)
    finally:
        log.info("serve.stopping")
        for helper in helpers:
            with contextlib.suppress(ProcessLookupError):
                helper.terminate()
            await helper.wait()
        await listener.close()
        if runtime is not None:
            await runtime.close()


async def work(settings: Settings) -> None:
    """A worker process: turns from the inbox and scheduled jobs, no HTTP listener. It needs
    the Redis (`ITDESK_REDIS_URL`) and the org the serving process uses."""
    if not settings.redis_url:
        raise SystemExit("a worker needs ITDESK_REDIS_URL: the Redis the desk serves from")
    runtime = await Runtime.start(settings)
    runner = web.AppRunner(runtime.app, access_log=None)
    await runner.setup()  # starts the adapters and the workers, listens on nothing
    log.info("worker.started")
    try:
        await _until_stopped()
    finally:
        await runner.cleanup()
        await runtime.close()


async def _until_stopped(stop: asyncio.Event | None = None) -> None:
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # docker stop, Ctrl-C: shut down cleanly
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _spawn_worker(runtime: Runtime, org_file: Path | None) -> asyncio.subprocess.Process:
    """One more worker process on this desk's Redis (the embedded one, when it is that)."""
    env = dict(os.environ)
    if runtime.embedded is not None:
        env["ITDESK_REDIS_URL"] = runtime.embedded.url
    if org_file is not None:
        env["ITDESK_ORG_FILE"] = str(org_file)
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "worker", env=env)
