"""Run every benchmark in turn: `python -m bench`."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "bench.turn_latency",
    "bench.redis_per_turn",
    "bench.policy",
    "bench.nlu_latency",
    "bench.llm_usage",
    "bench.startup",
    "bench.slack_ack",
)


def main() -> int:
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"# {name}: skipped ({exc})")
            continue
        print(f"# {name}")
        sys.argv = [name]
        module.main()
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
