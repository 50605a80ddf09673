"""What policy evaluation costs: decisions per second for each kind of question the desk asks
(in process, the policy set parsed once), and how many questions one turn asks, through the
desk's real path over the sandbox.

    .venv/bin/python -m bench.policy [--seconds 1.0] [--rounds 10]

Prints decisions/s per question and the questions (and policy time) per turn for a
self-service unlock, an access request up to its approval card, and a runbook answer.
No assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from adapters.chat.recording import RecordingChat
from bot.clock import ManualClock
from bot.models import Group, Person, Turn, TurnKind
from bot.observability import configure_logging
from bot.org import load_org
from bot.policy import PolicyEngine, PolicyRequest, questions
from bot.redis_server import EmbeddedRedis
from bot.store import Store
from bot.wiring import sandbox_desk
from bot.world import SandboxWorld
from verification.stepup import CHECK_ANSWERED

ROOT = Path(__file__).resolve().parents[1]
ORG = ROOT / "examples" / "acme.yaml"

ALICE = Person(username="alice", name="Alice", email="a@x.test", manager="carol")
CAROL = Person(username="carol", name="Carol", email="c@x.test", roles=("admin",))
GROUP = Group(id="finance", name="Finance", owner="carol", max_days=90)


def _questions(engine: PolicyEngine) -> dict[str, Callable[[], object]]:
    request = PolicyRequest(ALICE, "add_to_group", GROUP, ALICE, "access_request", "access")
    return {
        "route (add_to_group)": lambda: engine.decide(request),
        "press_button": lambda: engine.ask(
            questions.press(
                ALICE,
                action="undo",
                addressed_to=["alice"],
                role=None,
                requester="alice",
                on_roster=False,
            )
        ),
        "approve (candidate)": lambda: engine.ask(
            questions.approver(
                CAROL, ALICE, kind="group_owner", relations=["group_owner"], fallback=False
            )
        ),
        "rate_risk": lambda: engine.ask(
            questions.about_skill(
                "rate_risk", ALICE, GROUP, skill="add_to_group", intent="access_request"
            )
        ),
        "send_check": lambda: engine.ask(
            questions.send_check(
                ALICE,
                pushes_last_hour=1,
                codes_last_hour=0,
                credential_changes_last_day=0,
                failures_in_row=0,
            )
        ),
        "run_command": lambda: engine.ask(questions.command(CAROL, "stats")),
    }


def _rate(call: Callable[[], object], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(50):
            call()
        done += 50
    return done / (time.perf_counter() - started)


async def _per_turn(rounds: int) -> dict[str, float]:
    """Questions asked of policy per turn, for three kinds of turn."""
    org = load_org(ORG)
    locked = next(p.username for p in org.people() if p.locked and not p.privileged)
    asker = next(p.username for p in org.people() if not p.locked and not p.disabled)
    counts: dict[str, list[int]] = {"unlock (two turns)": [], "access request": [],
                                    "runbook answer": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persistent=False)
        await server.start()
        redis = Redis.from_url(server.url, decode_responses=True)
        try:
            for n in range(rounds):
                store = Store(redis, f"bench{n}")
                clock = ManualClock(org.now or datetime.now(UTC))
                world = await SandboxWorld.create(store.child("world"), org, clock, reset=True)
                engine = PolicyEngine()
                desk = sandbox_desk(store, world, clock, outbound=RecordingChat(), policy=engine)
                await desk.warm_up()
                before = engine.evaluations
                await desk.handle(_turn(locked, f"u{n}", "I'm locked out of my account"))
                check = await desk.stepup.pending(locked)
                if check is not None and check.check_id is not None and check.kind == "push":
                    await world.checks.answer(check.check_id, approve=True)
                    await desk.handle(_turn(locked, f"p{n}", "", action=CHECK_ANSWERED,
                                            ref=check.check_id))  # fmt: skip
                elif check is not None and check.check_id is not None:
                    item = await world.checks.delivered(check.check_id)
                    await desk.handle(_turn(locked, f"p{n}", (item.secret or "") if item else ""))
                counts["unlock (two turns)"].append(engine.evaluations - before)
                before = engine.evaluations
                group = next(g for g in org.group_list() if not g.sensitive and g.owner)
                await desk.handle(_turn(asker, f"a{n}", f"please add me to {group.name}"))
                counts["access request"].append(engine.evaluations - before)
                before = engine.evaluations
                await desk.handle(_turn(asker, f"k{n}", "my vpn keeps dropping every few minutes"))
                counts["runbook answer"].append(engine.evaluations - before)
                await store.drop()
        finally:
            await redis.aclose()
            await server.stop()
    return {name: statistics.mean(c) for name, c in counts.items()}


def _turn(
    user: str, event: str, text: str, *, action: str | None = None, ref: str | None = None
) -> Turn:
    return Turn(platform="web", event_id=event, user_id=user, conversation_id=f"dm:{user}",
                kind=TurnKind.CLICK if action else TurnKind.MESSAGE, text=text, action=action,
                ref=ref)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    configure_logging("WARNING", "console")
    engine = PolicyEngine()
    rates = {name: _rate(call, args.seconds) for name, call in _questions(engine).items()}
    for name, rate in rates.items():
        print(f"{name:<24} {rate:9,.0f} decisions/s   {1e6 / rate:7.1f} us each")
    mean_us = statistics.mean(1e6 / r for r in rates.values())
    for name, per_turn in asyncio.run(_per_turn(args.rounds)).items():
        cost = per_turn * mean_us / 1000
        print(f"{name:<24} {per_turn:5.1f} questions per turn   ~{cost:5.2f} ms of policy")


if __name__ == "__main__":
    main()
