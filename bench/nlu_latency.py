"""Per-message latency of the offline understanding (and runbook search), as percentiles.

    .venv/bin/python -m bench.nlu_latency [--org examples/acme.yaml] [--rounds 5]

Prints the one-off training time, then p50/p90/p99/max per message over the labelled
evaluation messages. No assertions: a number to watch, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bot.knowledge import KnowledgeBase
from bot.org import load_org
from bot.understanding import IntentCatalog, OfflineUnderstanding
from bot.understanding.classifier import shared_classifier
from skills import default_skills

ROOT = Path(__file__).resolve().parents[1]


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return (
        f"p50 {cut[49] * 1000:6.2f} ms  p90 {cut[89] * 1000:6.2f} ms  "
        f"p99 {cut[98] * 1000:6.2f} ms  max {ordered[-1] * 1000:6.2f} ms"
    )


def _time_each(texts: list[str], rounds: int, call: Callable[[str], object]) -> list[float]:
    samples = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            call(text)
            samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", type=Path, default=ROOT / "examples" / "acme.yaml")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    org = load_org(args.org)
    intents = IntentCatalog.of(default_skills().intents())
    started = time.perf_counter()
    shared_classifier(intents)
    print(f"training: {time.perf_counter() - started:.2f} s (once per process)")

    understanding = OfflineUnderstanding(org.catalog(), intents=intents)
    knowledge = KnowledgeBase.load(org.knowledge)
    lines = (ROOT / "tests" / "nlu_eval.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    understanding.predict(texts[0])  # warm caches

    samples = _time_each(texts, args.rounds, understanding.predict)
    print(f"understand ({len(samples)} messages): {_percentiles(samples)}")
    samples = _time_each(texts, args.rounds, knowledge.search)
    print(f"runbook search ({len(samples)} messages): {_percentiles(samples)}")


if __name__ == "__main__":
    main()
