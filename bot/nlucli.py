"""`itdesk nlu predict` and `itdesk nlu eval`: the offline understanding over a JSONL file.

Usage (the click commands in bot/cli.py call these):

    itdesk nlu predict FILE.jsonl [--org examples/acme.yaml]
        reads lines {"text": ..., "user"?: username}; writes one line per input:
        {"text", "intent", "confidence", "queue", "slots"} ("queue": "none" for not_it)

    itdesk nlu eval FILE.jsonl [--org examples/acme.yaml]
        reads lines {"text", "intent"}; prints accuracy, per-intent precision and recall,
        and the most frequent confusions

Both return an exit code: 0 done, 2 unusable input (a message says which file and line).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.models import Person
from bot.org import Org, OrgFileError, load_org
from bot.settings import Settings
from bot.understanding.model import DEFAULT_THRESHOLD, Understanding, default_intents
from bot.understanding.offline import OfflineUnderstanding

__all__ = ["DEFAULT_ORG", "EvalReport", "eval_file", "evaluate", "predict_file"]

DEFAULT_ORG = Path("examples/acme.yaml")


class InputError(Exception):
    """A line of the input file that cannot be used."""


@dataclass(frozen=True)
class _Line:
    text: str
    user: str | None
    intent: str | None


def _read(path: Path, *, need_intent: bool) -> list[_Line]:
    lines: list[_Line] = []
    try:
        raw = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the file: {exc}") from exc
    for number, line in enumerate(raw, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not JSON: {exc.msg}") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InputError(f'{path}:{number}: expected an object with a "text" string')
        intent = row.get("intent")
        known = default_intents()
        if need_intent and intent not in known:
            names = ", ".join(known.names)
            raise InputError(f'{path}:{number}: "intent" must be one of {names}')
        user = row.get("user")
        lines.append(_Line(row["text"], user if isinstance(user, str) else None, intent))
    return lines


def _understanding(org_path: Path) -> tuple[OfflineUnderstanding, Org]:
    org = load_org(org_path)
    return OfflineUnderstanding(org.catalog()), org


def _requester(org: Org, username: str | None) -> Person | None:
    if username is None:
        return None
    return next((p for p in org.people() if p.username == username), None)


def prediction_row(text: str, understanding: Understanding) -> dict[str, object]:
    """The JSON object `itdesk nlu predict` writes for one message."""
    return {
        "text": text,
        "intent": understanding.intent,
        "confidence": understanding.confidence,
        "queue": understanding.queue or "none",
        "slots": understanding.slots,
    }


async def predict_file(
    path: Path,
    out: TextIO = sys.stdout,
    *,
    org_path: Path = DEFAULT_ORG,
    err: TextIO = sys.stderr,
    settings: Settings | None = None,
) -> int:
    """Understand every line of `path` with the understanding the settings select (Claude
    when an Anthropic key is configured, else the offline one) and write one JSON line per
    input to `out`."""
    from bot.observability import Metrics
    from bot.wiring import build_understanding  # wiring lives in bot.wiring

    try:
        lines = _read(path, need_intent=False)
        org = load_org(org_path)
    except (InputError, OrgFileError) as exc:
        print(exc, file=err)
        return 2
    understanding = build_understanding(
        org.catalog(),
        threshold=settings.nlu_threshold if settings else DEFAULT_THRESHOLD,
        metrics=Metrics(),
        settings=settings,
    )
    warm = getattr(understanding, "warm_up", None)
    if warm is not None:
        await warm()
    try:
        for line in lines:
            requester = _requester(org, line.user) or _SOMEONE
            result = await understanding.understand(line.text, requester=requester)
            out.write(json.dumps(prediction_row(line.text, result), ensure_ascii=False) + "\n")
    finally:
        close = getattr(understanding, "aclose", None)
        if close is not None:
            await close()
    return 0


# Who is asking, when the file does not say: nobody in the directory (so never a target).
_SOMEONE = Person(username="someone", name="Someone", email="someone@invalid")


@dataclass(frozen=True)
class EvalReport:
    """Accuracy, per-intent precision and recall, and (expected, predicted) confusions."""

    total: int
    correct: int
    precision: dict[str, float]
    recall: dict[str, float]
    support: dict[str, int]
    confusions: list[tuple[str, str, int]]
    confident_share: float  # share of messages at or above the threshold
    confident_accuracy: float  # accuracy on those

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def render(self) -> str:
        lines = [
            f"messages: {self.total}",
            f"accuracy: {self.accuracy:.3f}",
            f"confident (>= threshold): {self.confident_share:.3f} of messages, "
            f"accuracy {self.confident_accuracy:.3f}",
            "",
            f"{'intent':20} {'precision':>9} {'recall':>7} {'n':>4}",
        ]
        for intent in default_intents().names:
            if intent in self.support or intent in self.precision:
                lines.append(
                    f"{intent:20} {self.precision.get(intent, 0.0):9.2f} "
                    f"{self.recall.get(intent, 0.0):7.2f} {self.support.get(intent, 0):4d}"
                )
        if self.confusions:
            lines += ["", "confusions (expected -> predicted: count):"]
            lines += [f"  {want} -> {got}: {count}" for want, got, count in self.confusions]
        return "\n".join(lines)


def evaluate(understanding: OfflineUnderstanding, labelled: list[tuple[str, str]]) -> EvalReport:
    """Score `understanding` on (text, expected intent) pairs."""
    pairs: list[tuple[str, str]] = []
    confident: list[bool] = []
    for text, expected in labelled:
        result = understanding.predict(text)
        pairs.append((expected, result.intent))
        confident.append(result.confident)
    support = Counter(want for want, _ in pairs)
    predicted = Counter(got for _, got in pairs)
    hits = Counter(want for want, got in pairs if want == got)
    sure = [pair for pair, ok in zip(pairs, confident, strict=True) if ok]
    return EvalReport(
        total=len(pairs),
        correct=sum(hits.values()),
        precision={i: hits[i] / n for i, n in predicted.items()},
        recall={i: hits[i] / n for i, n in support.items()},
        support=dict(support),
        confusions=[
            (want, got, count)
            for (want, got), count in Counter(p for p in pairs if p[0] != p[1]).most_common()
        ],
        confident_share=len(sure) / len(pairs) if pairs else 0.0,
        confident_accuracy=sum(w == g for w, g in sure) / len(sure) if sure else 0.0,
    )


def eval_file(
    path: Path, out: TextIO = sys.stdout, *, org_path: Path = DEFAULT_ORG, err: TextIO = sys.stderr
) -> int:
    """Print the evaluation of the offline understanding on a labelled JSONL file."""
    try:
        lines = _read(path, need_intent=True)
        understanding, _ = _understanding(org_path)
    except (InputError, OrgFileError) as exc:
        print(exc, file=err)
        return 2
    report = evaluate(understanding, [(line.text, str(line.intent)) for line in lines])
    out.write(report.render() + "\n")
    return 0
