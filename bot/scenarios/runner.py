"""Running scenarios, each in a fresh, isolated world.

One Redis serves the whole run (an embedded redis-server in memory, or the configured one);
each scenario gets its own namespace, dropped afterwards, a sandbox loaded from its org file,
a manual clock at the org's `now`, and a fresh desk whose outbound side is a recording chat.
A scenario that breaks (a step it cannot perform, a timeout, an error in the runner) is a
failure with the reason, never a crash of the run."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from adapters.chat.recording import RecordingChat
from bot.clock import ManualClock
from bot.redis_server import EmbeddedRedis
from bot.scenarios.actions import ExecutedAction
from bot.scenarios.driver import Driver, StepFailedError
from bot.scenarios.expect import check_expectations, observe, unexpected_actions
from bot.scenarios.invariants import check_invariants
from bot.scenarios.model import Scenario
from bot.store import Store, connect
from bot.wiring import sandbox_desk
from bot.world import SandboxWorld

SCENARIO_TIMEOUT = 60.0  # seconds of real time one scenario may take


@dataclass
class ScenarioResult:
    """How one scenario went."""

    scenario: Scenario
    failures: list[str] = field(default_factory=list)
    outcome: str | None = None
    actions: list[ExecutedAction] = field(default_factory=list)
    automated: bool = False
    unsafe_actions: int = 0

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.scenario.id,
            "passed": self.passed,
            "failures": list(self.failures),
            "outcome": self.outcome,
            "actions": [a.as_entry() for a in self.actions],
        }


@dataclass(frozen=True)
class Summary:
    """The suite's figures: `automation_rate` is the share of scenarios handled without a
    human (approvers aside); `unsafe_actions` counts executed actions nobody expected."""

    total: int
    passed: int
    failed: int
    automation_rate: float
    unsafe_actions: int

    @classmethod
    def of(cls, results: Sequence[ScenarioResult]) -> Summary:
        total = len(results)
        passed = sum(r.passed for r in results)
        automated = sum(r.automated for r in results)
        return cls(
            total,
            passed,
            total - passed,
            round(automated / total, 4) if total else 0.0,
            sum(r.unsafe_actions for r in results),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "passed": self.passed,
            "failed": self.failed,
            "automation_rate": self.automation_rate,
            "unsafe_actions": self.unsafe_actions,
        }


@asynccontextmanager
async def suite_redis(redis_url: str | None) -> AsyncIterator[Redis]:
    """The configured Redis, or a private in-memory redis-server for the run."""
    with tempfile.TemporaryDirectory(prefix="itdesk-scenarios-") as data:
        embedded = None
        if not redis_url:
            embedded = EmbeddedRedis(Path(data), persistent=False)
            redis_url = await embedded.start()
        redis = connect(redis_url)
        try:
            await redis.ping()
            yield redis
        finally:
            await redis.aclose()
            if embedded is not None:
                await embedded.stop()


class ScenarioRunner:
    """Runs scenarios one after another against one Redis, each in its own namespace."""

    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str = "itdesk",
        oncall_channel: str = "oncall",
        threshold: float = 0.55,
        timeout: float = SCENARIO_TIMEOUT,
    ) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:scenarios:{secrets.token_hex(4)}"
        self._oncall_channel = oncall_channel
        self._threshold = threshold
        self._timeout = timeout
        self._count = 0

    async def run_all(
        self,
        scenarios: Sequence[Scenario],
        on_result: Callable[[ScenarioResult], None] | None = None,
    ) -> list[ScenarioResult]:
        """Run every scenario in order, telling `on_result` as each finishes."""
        results = []
        for scenario in scenarios:
            result = await self.run(scenario)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    async def run(self, scenario: Scenario) -> ScenarioResult:
        """Play one scenario in a world of its own and check it."""
        self._count += 1
        store = Store(self._redis, f"{self._prefix}:{self._count}")
        try:
            return await self._run(scenario, store)
        except Exception as exc:  # a world that cannot be built fails this scenario only
            return ScenarioResult(
                scenario, [f"could not set up the world: {type(exc).__name__}: {exc}"]
            )
        finally:
            await store.drop()

    async def _run(self, scenario: Scenario, store: Store) -> ScenarioResult:
        result = ScenarioResult(scenario)
        clock = ManualClock(scenario.org.now or datetime.now(UTC))
        world = await SandboxWorld.create(store.child("world"), scenario.org, clock, reset=True)
        chat = RecordingChat(self._oncall_channel)
        desk = sandbox_desk(
            store,
            world,
            clock,
            oncall_channel=self._oncall_channel,
            outbound=chat,
            threshold=self._threshold,
        )
        driver = Driver(desk, chat, clock, world.checks)
        try:
            async with asyncio.timeout(self._timeout):
                await driver.run(scenario.steps)
        except StepFailedError as exc:
            result.failures.append(str(exc))
        except TimeoutError:
            result.failures.append(
                f"timed out after {self._timeout:.0f}s, after step {driver.steps_done}"
            )
        except Exception as exc:  # the runner's own trouble is a failure with its reason
            result.failures.append(
                f"the runner broke after step {driver.steps_done}: {type(exc).__name__}: {exc}"
            )
        result.failures.extend(driver.failures)
        try:
            seen = await observe(desk, world, chat, scenario.first_requester)
        except Exception as exc:
            result.failures.append(f"could not read the end state: {type(exc).__name__}: {exc}")
            return result
        result.outcome = seen.outcome
        result.actions = list(seen.actions)
        result.automated = seen.automated
        result.unsafe_actions = unexpected_actions(scenario.expect.expected_actions, seen.actions)
        result.failures.extend(check_expectations(scenario.expect, seen))
        result.failures.extend(check_invariants(seen, await desk.audit.verify()))
        return result
