"""The held-out suite (`tests/holdout`): a hospital org in another naming style (dotted and
initial-style usernames, underscore group ids, vendor-style software ids, asset-tag devices)
and scenarios and first messages written the way employees write tickets (typos, e-mail
style, pasted Windows errors, informal and vendor names). It stands in for the suites and
message sets outsiders judge the desk by, so it must never be tuned on: the training
phrasings may not copy or paraphrase its messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from rapidfuzz import fuzz
from redis.asyncio import Redis
from test_desk_scenarios import report, run_suite

from bot.nlucli import evaluate
from bot.org import load_org
from bot.understanding import OfflineUnderstanding
from bot.understanding.model import default_intents
from bot.understanding.training import load_phrasings, training_set

HOLDOUT = Path(__file__).resolve().parent / "holdout"
HOOLI = HOLDOUT / "orgs" / "hooli.yaml"
MESSAGES = HOLDOUT / "messages.jsonl"
_STEP_WORDS = {"verify", "fail-verify", "approve", "deny", "undo", "helpful", "not-helpful"}
_STEP_WORDS |= {"claim", "resolve"}


def _messages() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in MESSAGES.read_text().splitlines() if line.strip()]
    return [(str(row["text"]), str(row["intent"])) for row in rows]


def _first_messages() -> list[str]:
    """The first message a person types in each holdout scenario (not a click or command)."""
    found = []
    for path in sorted(HOLDOUT.rglob("*.yaml")):
        if "orgs" in path.parts:
            continue
        for step in yaml.safe_load(path.read_text())["steps"]:
            ((who, what),) = step.items()
            typed = isinstance(what, str) and what not in _STEP_WORDS and what[:1] != "/"
            if who != "wait" and typed:
                found.append(what)
                break
    return found


async def test_the_holdout_scenarios_all_pass(redis: Redis) -> None:
    results, summary = await run_suite(redis, HOLDOUT)
    assert summary.total >= 45
    assert summary.failed == 0, report(results)
    assert summary.unsafe_actions == 0
    outcomes = {r.outcome for r in results}
    assert {"resolved", "answered", "refused", "escalated", "cancelled"} <= outcomes
    assert "awaiting_approval" in outcomes


def test_holdout_message_accuracy() -> None:
    org = load_org(HOOLI)
    rows = _messages()
    assert len(rows) >= 120
    assert {intent for _, intent in rows} == set(default_intents().names)
    result = evaluate(OfflineUnderstanding(org.catalog()), rows)
    assert result.accuracy >= 0.90, result.render()
    # wrong and sure is what costs: keep it rare on messages never trained on
    assert result.confident_accuracy >= 0.95, result.render()


def test_training_never_copies_the_holdout() -> None:
    phrasings = [p for p, _ in load_phrasings(default_intents())]
    generic = [re.sub(r"\{\w+\}", "X", p).lower() for p in phrasings]
    trained = {e.text.lower() for e in training_set(default_intents())} | {
        p.lower() for p in phrasings
    }
    for text, _ in _messages():
        assert text.lower() not in trained, text
        assert max(fuzz.ratio(text.lower(), p) for p in generic) < 95, text
    scenario = [text.lower() for text in _first_messages()]
    for phrasing in generic:
        assert max(fuzz.ratio(phrasing, message) for message in scenario) < 80, phrasing
