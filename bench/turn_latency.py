"""Time from a request to its resolution, through the desk's real path: Turn -> Desk.handle
-> effects, with a real embedded redis-server and the sandbox world.

    .venv/bin/python -m bench.turn_latency [--rounds 30]

Prints per-turn latency percentiles for a self-service unlock (message, then the step-up
push approved) and a knowledge answer, and the end-to-end time per resolved request. The
figure to compare with is a technician's 10-25 minutes. No assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from adapters.chat.recording import RecordingChat
from bot.clock import ManualClock
from bot.models import Turn, TurnKind
from bot.observability import configure_logging
from bot.org import load_org
from bot.redis_server import EmbeddedRedis
from bot.store import Store
from bot.wiring import sandbox_desk
from bot.world import SandboxWorld
from verification.stepup import CHECK_ANSWERED

ROOT = Path(__file__).resolve().parents[1]
ORG = ROOT / "examples" / "acme.yaml"


def _ms(samples: list[float]) -> str:
    cut = statistics.quantiles(sorted(samples), n=100, method="inclusive")
    p50, p90, top = cut[49] * 1000, cut[89] * 1000, max(samples) * 1000
    return f"p50 {p50:7.2f} ms   p90 {p90:7.2f} ms   max {top:7.2f} ms"


async def _run(rounds: int) -> None:
    configure_logging("WARNING", "console")
    org = load_org(ORG)
    locked = next(p.username for p in org.people() if p.locked and not p.privileged)
    asker = next(p.username for p in org.people() if not p.locked and not p.disabled)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persistent=False)
        await server.start()
        redis = Redis.from_url(server.url, decode_responses=True)
        message_s: list[float] = []
        push_s: list[float] = []
        knowledge_s: list[float] = []
        resolved_s: list[float] = []
        try:
            for n in range(rounds):
                store = Store(redis, f"bench{n}")
                clock = ManualClock(org.now or datetime.now(UTC))
                world = await SandboxWorld.create(store.child("world"), org, clock, reset=True)
                chat = RecordingChat()
                desk = sandbox_desk(store, world, clock, outbound=chat)
                await desk.warm_up()
                started = time.perf_counter()
                await desk.handle(_turn(locked, f"u{n}", "I'm locked out of my account"))
                message_s.append(time.perf_counter() - started)
                check = await desk.stepup.pending(locked)
                assert check is not None
                assert check.check_id is not None
                t = time.perf_counter()
                if check.kind == "push":
                    await world.checks.answer(check.check_id, approve=True)
                    answer = _turn(locked, f"p{n}", "", action=CHECK_ANSWERED, ref=check.check_id)
                else:
                    item = await world.checks.delivered(check.check_id)
                    answer = _turn(locked, f"p{n}", (item.secret or "") if item else "")
                await desk.handle(answer)
                push_s.append(time.perf_counter() - t)
                resolved_s.append(time.perf_counter() - started)
                t = time.perf_counter()
                await desk.handle(_turn(asker, f"k{n}", "my vpn keeps dropping every few minutes"))
                knowledge_s.append(time.perf_counter() - t)
                await store.drop()
        finally:
            await redis.aclose()
            await server.stop()
    print(f"rounds: {rounds} (org {ORG.name}, embedded redis-server)")
    print(f"unlock request turn      {_ms(message_s)}")
    print(f"check passed -> unlock   {_ms(push_s)}")
    print(f"runbook answer turn      {_ms(knowledge_s)}")
    print(f"resolved end to end      {_ms(resolved_s)}  (desk time, excluding the person)")


def _turn(
    user: str, event: str, text: str, *, action: str | None = None, ref: str | None = None
) -> Turn:
    return Turn(
        platform="web",
        event_id=event,
        user_id=user,
        conversation_id=f"dm:{user}",
        kind=TurnKind.CLICK if action else TurnKind.MESSAGE,
        text=text,
        action=action,
        ref=ref,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(_run(args.rounds))


if __name__ == "__main__":
    main()
