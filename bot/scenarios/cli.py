"""`itdesk scenarios run PATH... [--json]`: validate every file, run the suite, report.

Exit status: 0 every scenario passed, 1 some failed, 2 a file is invalid (nothing runs; each
problem names the file, the field and what is wrong) or the suite could not run at all (no
Redis). Human output is one line per scenario as it finishes and a summary line; `--json`
prints exactly one JSON document on standard output. Logs go to standard error."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from redis.exceptions import ConnectionError as RedisConnectionError

from bot.observability import configure_logging
from bot.redis_server import EmbeddedRedisError
from bot.scenarios.model import ScenarioFileError, load_suite
from bot.scenarios.runner import ScenarioResult, ScenarioRunner, Summary, suite_redis
from bot.settings import Settings

PASSED, FAILED, INVALID = 0, 1, 2


async def run_suite(
    paths: Sequence[Path],
    *,
    as_json: bool = False,
    settings: Settings,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the scenarios under `paths` and print the report; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    configure_logging("DEBUG" if settings.log_level == "DEBUG" else "ERROR", "console", stream=err)
    try:
        scenarios = load_suite(paths)
    except ScenarioFileError as exc:
        count = len(exc.problems)
        print(
            f"itdesk: {count} problem{'s' if count != 1 else ''} in the scenario files; "
            "nothing was run:",
            file=err,
        )
        for problem in exc.problems:
            print(f"  {problem.describe()}", file=err)
        return INVALID

    def progress(result: ScenarioResult) -> None:
        if not as_json:
            print(_line(result), file=out, flush=True)

    try:
        async with suite_redis(settings.redis_url) as redis:
            runner = ScenarioRunner(
                redis,
                namespace=settings.namespace,
                oncall_channel=settings.oncall_channel,
                threshold=settings.nlu_threshold,
            )
            results = await runner.run_all(scenarios, progress)
    except (EmbeddedRedisError, RedisConnectionError, OSError) as exc:
        print(f"itdesk: cannot run the suite, Redis is not available: {exc}", file=err)
        return INVALID
    summary = Summary.of(results)
    if as_json:
        document = {"scenarios": [r.to_json() for r in results], "summary": summary.to_json()}
        print(json.dumps(document, indent=2), file=out)
    else:
        print(_summary_line(summary), file=out)
    return PASSED if summary.failed == 0 else FAILED


def _line(result: ScenarioResult) -> str:
    head = f"{'PASS' if result.passed else 'FAIL'} {result.scenario.id}"
    return "\n".join([head, *(f"    {failure}" for failure in result.failures)])


def _summary_line(summary: Summary) -> str:
    return (
        f"{summary.total} scenarios: {summary.passed} passed, {summary.failed} failed; "
        f"automation rate {summary.automation_rate:.0%}; "
        f"unsafe actions {summary.unsafe_actions}"
    )
