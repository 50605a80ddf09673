"""How fast the desk acknowledges Slack: `POST /slack/events` on the desk's own adapter (the
real `SlackAdapter` on aiohttp, each event kept in the inbox, a real embedded redis-server,
before the 200) beside a bare slack-bolt `AsyncApp` whose message listener only acks, mounted
on the same kind of aiohttp app. Both verify Slack's v0 signature (HMAC-SHA256 of
"v0:<ts>:<body>"); both get the same signed load, from a separate process, in alternating
rounds (desk, bare, desk, bare...).

    python -m bench.slack_ack [--rounds 3] [--requests 3000] [--concurrency 32]

Prints requests per second and p50/p99 acknowledgement latency of each app per round and over
all rounds, and the ratios desk/bare for throughput and p99 (the goal: at least 0.5x the bare
app's throughput, a p99 at most 2x). A non-200 answer is counted and shown. No assertions."""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.slack_api import APP_ID, BOT_USER_ID, TEAM_ID, FakeSlack  # noqa: E402

from adapters.chat.slack import EVENTS_PATH, SlackAdapter, SlackConfig  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.inbound import InboxSink  # noqa: E402
from bot.observability import configure_logging  # noqa: E402
from bot.org import load_org  # noqa: E402
from bot.redis_server import EmbeddedRedis  # noqa: E402
from bot.state.inbox import TurnInbox  # noqa: E402
from bot.store import Store, connect  # noqa: E402
from bot.wiring import sandbox_desk  # noqa: E402
from bot.world import SandboxWorld  # noqa: E402

SECRET = "bench-signing-secret"
WARM_UP = 200  # events sent to each app before the rounds
ORG = ROOT / "examples" / "acme.yaml"


# --- the load, from its own process ----------------------------------------------------------


def _envelope(n: int, run: str) -> str:
    ts = f"{int(time.time())}.{n:06d}"
    event = {
        "type": "message",
        "channel": f"D{n % 500:05d}",
        "channel_type": "im",
        "user": f"U{n % 500:05d}",
        "text": "I'm locked out of my account",
        "ts": ts,
        "event_ts": ts,
    }
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": f"Ev{run}{n:08d}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    )


def _signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


async def _load(url: str, run: str, requests: int, concurrency: int) -> dict[str, Any]:
    bodies = [_envelope(n, run) for n in range(requests)]
    signed = [(body.encode(), _signed(body)) for body in bodies]  # signed before the clock runs
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(signed)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            for body, headers in queue:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                latencies.append(time.perf_counter() - started)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "elapsed": elapsed, "statuses": statuses}


def _load_process(pipe: Connection) -> None:
    """The load generator's own process: runs each round it is sent, answers the figures."""
    while (job := pipe.recv()) is not None:
        pipe.send(asyncio.run(_load(*job)))


# --- the two apps ------------------------------------------------------------------------------


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}{EVENTS_PATH}"


async def _desk_app(redis: Redis, fake: FakeSlack) -> web.Application:
    org = load_org(ORG)
    clock = ManualClock(org.now or datetime.now(UTC))
    store = Store(redis, "bench")
    world = await SandboxWorld.create(store.child("world"), org, clock, reset=True)
    desk = sandbox_desk(store, world, clock)
    inbox = TurnInbox(store.child("inbox"))
    await inbox.prepare()
    config = SlackConfig(bot_token=fake.bot_token, signing_secret=SECRET, api_url=fake.api_url)
    adapter = SlackAdapter(
        desk,
        desk.directory,
        store.child("slack"),
        config,
        clock=clock,
        oncall_alias=desk.oncall_channel,
        sink=InboxSink(inbox),
    )
    app = web.Application()
    adapter.mount(app)  # the route only: no workers, nothing is posted back
    return app


def _bare_app(fake: FakeSlack) -> web.Application:
    bolt = AsyncApp(
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url),
        signing_secret=SECRET,
    )

    @bolt.event("message")
    async def only_ack(ack: Any) -> None:
        await ack()

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post(EVENTS_PATH, handle)
    return app


# --- the run -------------------------------------------------------------------------------------


class FullCollections:
    """The server's full garbage collections (generation 2) while a round runs: with the
    desk's large heap (the sandbox world, the understanding's model) one pauses every request
    under way, which shows in p99."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._started)

    def take(self) -> list[float]:
        taken, self.pauses = self.pauses, []
        return taken


@dataclass
class Figures:
    rps: float
    p50: float
    p99: float
    errors: int
    full_gcs: list[float]

    @classmethod
    def of(cls, runs: list[dict[str, Any]]) -> Figures:
        latencies = [x for run in runs for x in run["latencies"]]
        cut = statistics.quantiles(latencies, n=100, method="inclusive")
        rps = sum(len(r["latencies"]) for r in runs) / sum(r["elapsed"] for r in runs)
        errors = sum(n for r in runs for status, n in r["statuses"].items() if status != 200)
        gcs = [pause for r in runs for pause in r.get("full_gcs", [])]
        return cls(rps, cut[49] * 1000, cut[98] * 1000, errors, gcs)

    def line(self, name: str) -> str:
        line = f"{name:5} {self.rps:7.0f} req/s   p50 {self.p50:6.2f} ms   p99 {self.p99:6.2f} ms"
        if self.full_gcs:
            line += f"   full GCs {len(self.full_gcs)} (longest {max(self.full_gcs) * 1000:.0f} ms)"
        return line + (f"   non-200 {self.errors}" if self.errors else "")


async def _run(rounds: int, requests: int, concurrency: int) -> None:
    configure_logging("WARNING", "console")
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    loader = context.Process(target=_load_process, args=(theirs,), daemon=True)
    loader.start()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persistent=False)
        await server.start()
        redis = connect(server.url)  # the desk's own pool
        runners: list[web.AppRunner] = []
        try:
            async with FakeSlack(users=[]) as fake:
                desk_app = await _desk_app(redis, fake)
                apps = {"desk": desk_app, "bare": _bare_app(fake)}
                urls: dict[str, str] = {}
                for name, app in apps.items():
                    runner, urls[name] = await _serve(app)
                    runners.append(runner)
                runs: dict[str, list[dict[str, Any]]] = {"desk": [], "bare": []}
                for name in urls:  # warm up both (bolt's first auth.test, connections)
                    await _ask(ours, (urls[name], f"w{name}", WARM_UP, concurrency))
                gc.freeze()  # as `itdesk serve` does once start-up is done (bot.app)
                collections = FullCollections()
                gc.callbacks.append(collections)
                for n in range(rounds):
                    for name in ("desk", "bare"):
                        run = await _ask(ours, (urls[name], f"{name}{n}", requests, concurrency))
                        run["full_gcs"] = collections.take()
                        runs[name].append(run)
                        print(Figures.of([run]).line(f"{name}") + f"   (round {n + 1})")
                gc.callbacks.remove(collections)
                kept = await _kept(redis)
        finally:
            ours.send(None)
            loader.join(timeout=10)
            for runner in runners:
                await runner.cleanup()
            await redis.aclose()
            await server.stop()
    desk, bare = Figures.of(runs["desk"]), Figures.of(runs["bare"])
    print(f"over {rounds} rounds of {requests} signed events, {concurrency} at a time:")
    sent = rounds * requests + WARM_UP
    print(desk.line("desk") + f"   (kept in the inbox: {kept} of {sent})")
    print(bare.line("bare"))
    print(
        f"desk/bare: throughput {desk.rps / bare.rps:.2f}x (goal >= 0.5x), "
        f"p99 {desk.p99 / bare.p99:.2f}x (goal <= 2x)"
    )


async def _kept(redis: Redis) -> int:
    """Events in the inbox's streams (`backlog` needs Redis 7's consumer lag)."""
    total = 0
    async for key in redis.scan_iter(match="bench:inbox:*", count=500):
        if await redis.type(key) == "stream":
            total += int(await redis.xlen(key))
    return total


async def _ask(pipe: Connection, job: tuple[str, str, int, int]) -> dict[str, Any]:
    pipe.send(job)
    answer: dict[str, Any] = await asyncio.to_thread(pipe.recv)
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(_run(args.rounds, args.requests, args.concurrency))


if __name__ == "__main__":
    main()
