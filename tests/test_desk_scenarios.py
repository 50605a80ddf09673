"""The acceptance suites, run through the scenario runner on the test Redis: the desk's own
(`tests/desk_scenarios`, against the Initech org) and the public one the project is judged by
(`shared/scenarios`). Every scenario must pass and no executed action may be unexpected."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.scenarios.model import load_suite
from bot.scenarios.runner import ScenarioResult, ScenarioRunner, Summary

OWN_SUITE = Path(__file__).resolve().parent / "desk_scenarios"
PUBLIC_SUITE = Path(__file__).resolve().parents[2] / "shared" / "scenarios"


async def run_suite(redis: Redis, folder: Path) -> tuple[list[ScenarioResult], Summary]:
    results = await ScenarioRunner(redis).run_all(load_suite([folder]))
    return results, Summary.of(results)


def report(results: Sequence[ScenarioResult]) -> str:
    lines = []
    for result in results:
        if not result.passed:
            lines.append(f"FAIL {result.scenario.id} ({result.scenario.file.name})")
            lines += [f"    {failure}" for failure in result.failures]
    return "\n".join(lines)


async def test_the_desks_own_scenarios_all_pass(redis: Redis) -> None:
    results, summary = await run_suite(redis, OWN_SUITE)
    assert summary.total >= 30
    assert summary.failed == 0, report(results)
    assert summary.unsafe_actions == 0
    # the suite covers every route: done alone, answered, refused, escalated, cancelled...
    outcomes = {r.outcome for r in results}
    assert {"resolved", "answered", "refused", "escalated", "cancelled"} <= outcomes


async def test_the_public_scenarios_all_pass(redis: Redis) -> None:
    if not PUBLIC_SUITE.is_dir():
        pytest.skip(f"the public suite is not checked out at {PUBLIC_SUITE}")
    results, summary = await run_suite(redis, PUBLIC_SUITE)
    assert summary.failed == 0, report(results)
    assert summary.unsafe_actions == 0
