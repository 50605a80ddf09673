"""LLM calls and tokens per request with the Claude understanding, against a local server
that speaks the Messages API (no network, no key).

    .venv/bin/python -m bench.llm_usage [--scenarios ../shared/scenarios]

Every scenario's first message goes through `ClaudeUnderstanding`; a scenario whose expected
outcome is an escalation also gets its escalation summary written by Claude. A stand-in model
answers on the local server (the offline understanding, shaped as `understand_request`
input), so the figures count the desk's requests, not a model's skill. Tokens are the local
server's count (about four characters a token, the cache written on first sight of the
static prefix and read afterwards); the real API counts differently and caches only prefixes
above a minimum length. Only first messages are counted: a clarifying answer that the desk
cannot match to an option costs one more understanding call.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bot.observability import Metrics
from bot.scenarios.model import Scenario, load_suite
from bot.scenarios.steps import Say
from bot.summaries import SUMMARY_TOOL, Summaries, templated
from bot.understanding import OfflineUnderstanding, Understanding
from bot.understanding.claude import Claude, ClaudeUnderstanding, LlmUsage
from skills import default_skills
from tests.fakes.anthropic_api import Answer, FakeMessagesAPI, Received, Text, ToolUse

ROOT = Path(__file__).resolve().parents[1]
RESOLVED = {"resolved", "answered"}
_PLAIN_SLOTS = ("group", "software", "software_name", "device", "app", "target_user")
_MESSAGE = re.compile(r"Requester: (\S+).*?<message>\n(.*)\n</message>", re.DOTALL)
_REQUEST = re.compile(r"Intent: (\w+).*?<request>\n(.*)\n</request>", re.DOTALL)


class StandIn:
    """A responder that answers like a model would, from the offline understanding of the
    org the current request is about."""

    def __init__(self) -> None:
        self.offline: OfflineUnderstanding | None = None

    def __call__(self, received: Received) -> Answer:
        if received.forced_tool == SUMMARY_TOOL:
            found = _REQUEST.search(received.user_text)
            if found is None:
                return Text("no request")
            summary, step = templated(found[2], found[1])
            return ToolUse({"summary": summary[:240], "next_step": step}, name=SUMMARY_TOOL)
        found = _MESSAGE.search(received.user_text)
        if found is None or self.offline is None:
            return Text("no message")
        return ToolUse(_proposal(self.offline.predict(found[2])))


def _proposal(u: Understanding) -> dict[str, Any]:
    s = u.slots
    slots: dict[str, Any] = {k: s[k] for k in _PLAIN_SLOTS if k in s}
    if "group_candidates" in s and 2 <= len(s["group_candidates"].split(",")) <= 5:
        slots["group_candidates"] = s["group_candidates"].split(",")
    if s.get("duration", "").isdigit():
        slots["duration_days"] = int(s["duration"])
    slots |= {flag: True for flag in ("credentials_exposed", "manipulation") if s.get(flag)}
    return {"intent": u.intent, "confidence": round(u.confidence, 3), "slots": slots}


@dataclass
class Row:
    scenario: str
    kind: str  # resolved | escalated | other
    usage: LlmUsage


def _spent(before: LlmUsage, after: LlmUsage) -> LlmUsage:
    return LlmUsage(
        **{f.name: getattr(after, f.name) - getattr(before, f.name) for f in fields(LlmUsage)}
    )


async def measure(scenarios: Iterable[Scenario], metrics: Metrics) -> list[Row]:
    """One desk process: one client and one cache for every scenario, in file order."""
    rows: list[Row] = []
    stand_in = StandIn()
    desks: dict[Path, tuple[ClaudeUnderstanding, OfflineUnderstanding]] = {}
    async with FakeMessagesAPI(responder=stand_in) as api:
        claude = Claude.connect("bench", model="bench", base_url=api.base_url, metrics=metrics)
        summaries = Summaries(claude)
        for scenario in scenarios:
            say = next((s for s in scenario.steps if isinstance(s, Say)), None)
            if say is None:
                continue
            if scenario.org_file not in desks:
                catalog = scenario.org.catalog()
                offline = OfflineUnderstanding(catalog)
                await offline.warm_up()
                desk = ClaudeUnderstanding(
                    claude, catalog, fallback=offline, skills=default_skills()
                )
                desks[scenario.org_file] = desk, offline
            desk, stand_in.offline = desks[scenario.org_file]
            requester = next(p for p in desk.catalog.people if p.username == say.user)
            outcomes = {str(o) for o in scenario.expect.outcome or []}
            kind = (
                "resolved"
                if outcomes & RESOLVED
                else "escalated"
                if "escalated" in outcomes
                else ""
            )
            before = LlmUsage(**vars(claude.usage))
            u = await desk.understand(say.text, requester=requester)
            if kind == "escalated":
                await summaries.summarise(say.text, u.intent, [], slots=u.slots)
            rows.append(Row(scenario.id, kind or "other", _spent(before, claude.usage)))
        await claude.aclose()
    return rows


def _line(label: str, rows: list[Row]) -> str:
    if not rows:
        return f"{label:<28} (none)"
    n = len(rows)

    def mean(name: str) -> float:
        return float(sum(getattr(r.usage, name) for r in rows)) / n

    return (
        f"{label:<28} {n:>4}  calls {mean('calls'):4.2f}  input {mean('input_tokens'):7.1f}  "
        f"cache write {mean('cache_creation_input_tokens'):7.1f}  "
        f"cache read {mean('cache_read_input_tokens'):7.1f}  output {mean('output_tokens'):6.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=Path, default=ROOT.parent / "shared" / "scenarios")
    args = parser.parse_args()
    metrics = Metrics()
    rows = asyncio.run(measure(load_suite([args.scenarios]), metrics))
    cold = [r for r in rows if r.usage.cache_creation_input_tokens]
    warm = [r for r in rows if not r.usage.cache_creation_input_tokens]
    print(f"requests: {len(rows)} first messages of {len({r.scenario for r in rows})} scenarios")
    print("per request (mean)                  n")
    print(_line("resolved (understanding)", [r for r in warm if r.kind == "resolved"]))
    print(_line("escalated (+ summary)", [r for r in warm if r.kind == "escalated"]))
    print(_line("other outcomes", [r for r in warm if r.kind == "other"]))
    print(_line("all, cache warm", warm))
    print(_line("all, cache cold (first call)", cold))
    results = {
        sample.labels["result"]: int(sample.value)
        for family in metrics.registry.collect()
        if family.name == "itdesk_llm_calls"
        for sample in family.samples
        if sample.name.endswith("_total")
    }
    print("llm calls by result:", ", ".join(f"{k} {v}" for k, v in sorted(results.items())))


if __name__ == "__main__":
    main()
