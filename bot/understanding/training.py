"""The training set: the example phrasings of every intent the understanding knows (each
intent's `examples` file: the desk's under `examples/`, each skill's beside it), expanded.

A phrasing may hold placeholders, `{group}`, `{software}`, `{person}`, `{device}`, `{app}`.
Each phrasing yields up to three training texts, all derived deterministically:

- *masked*: placeholders become the mask words the classifier sees at run time once the
  org's own names are found ("add me to xxgroup");
- *filled*: placeholders become made-up names from generic lists (names no org file uses),
  sometimes wrapped in a greeting and a sign-off, so the model copes with names it cannot
  find in the catalogue and with e-mail style;
- *noisy*: lowercase, no punctuation, a typo or two.

The evaluation set in tests/ is never read here.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import cache

from bot.understanding.model import IntentCatalog, default_intents
from bot.understanding.text import MASK, stem, tokens

__all__ = ["Example", "load_phrasings", "ordinary_words", "training_set"]

_SEED = 20260302
_PLACEHOLDER = re.compile(r"\{(group|software|person|device|app)\}")

_FILLS: dict[str, tuple[str, ...]] = {
    "group": (
        "design team", "sales-emea", "Legal Docs", "project-phoenix", "HR Confidential",
        "platform-eng", "Board Papers", "ops-oncall", "analytics readers", "procurement",
        "dev-leads", "customer success", "QA testers", "london office", "data-science",
        "Brand Assets", "Contracts (read)", "exec-briefings", "research", "ml-platform",
        "quarterly reporting", "support-tier2", "Treasury", "grants-archive", "Events Team",
    ),
    "software": (
        "photoshop", "Figma", "notion", "Adobe Acrobat Pro", "pycharm", "Docker Desktop",
        "Miro", "Power BI", "Postman", "Lucidchart", "Blender", "RStudio", "Matlab",
        "AutoCAD", "SPSS", "Sketch", "Jira", "slack", "zoom", "excel", "tableau", "Visio",
        "intellij", "7zip", "VLC", "gimp", "Camtasia", "Snagit", "Chrome", "firefox",
        "Git", "Python", "Node.js", "MS Project", "Audacity", "Alteryx", "QuickBooks",
    ),
    "person": (
        "Anika", "Tom Becker", "Mei", "Lars", "Fatima", "Diego", "Kwame", "Sven", "ilse",
        "Marco", "Aisha Khan", "Kenji", "Nadia", "pete", "Zoe", "Rahul", "Ingrid",
        "Tomasz", "Chloe", "Samir",
    ),
    "device": ("LT-4821", "PC-0193", "DT-5520", "MB-1140", "lt-7788", "WS-3301", "NB-2210"),
    "app": (
        "sap", "salesforce", "workday", "jira", "the erp", "servicenow", "confluence",
        "the crm", "netsuite", "concur", "github", "the aws console", "sharepoint",
        "the intranet", "hubspot", "zendesk", "okta", "the hr portal",
    ),
}  # fmt: skip
_GREETINGS = (
    "hi", "hello", "hey team", "good morning", "Hi there,", "Hello IT,", "hey", "morning all",
    "Hi support,", "Dear IT team,", "yo", "hiya",
)  # fmt: skip
_SIGNOFFS = (
    "thanks", "thank you!", "cheers", "thx", "Many thanks, J", "Thanks in advance",
    "regards, K", "ty", "Best, M", "Kind regards", "appreciate it", "thanks a lot :)",
)  # fmt: skip


@dataclass(frozen=True)
class Example:
    """One training text, its intent, and the phrasing it came from (the CV group)."""

    text: str
    intent: str
    phrasing: int


@cache
def load_phrasings(intents: IntentCatalog) -> tuple[tuple[str, str], ...]:
    """Every (phrasing, intent) in the intents' example files, in a stable order."""
    found: list[tuple[str, str]] = []
    for spec in intents.specs:
        for line in spec.examples.read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.append((str(json.loads(line)["text"]), spec.name))
    return tuple(found)


@cache
def ordinary_words() -> frozenset[str]:
    """Every word of the shipped intents' phrasings, singular-folded: the everyday vocabulary
    of help-desk requests. A word in it is not taken for a misspelt catalogue name."""
    return frozenset(
        stem(word)
        for phrasing, _ in load_phrasings(default_intents())
        for word, _, _ in tokens(_PLACEHOLDER.sub(" ", phrasing))
    )


def _fill(phrasing: str, rng: random.Random, *, masked: bool) -> str:
    def one(match: re.Match[str]) -> str:
        kind = match.group(1)
        if masked and kind in MASK:
            return MASK[kind]
        return rng.choice(_FILLS[kind])

    return _PLACEHOLDER.sub(one, phrasing)


def _wrap(text: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:
        return f"{rng.choice(_GREETINGS)} {text}"
    if roll < 0.45:
        return f"{text} {rng.choice(_SIGNOFFS)}"
    if roll < 0.6:
        return f"{rng.choice(_GREETINGS)} {text} {rng.choice(_SIGNOFFS)}"
    return text


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _noisy(text: str, rng: random.Random) -> str:
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and not w.startswith("xx")]
    for i in rng.sample(candidates, min(len(candidates), rng.choice((1, 1, 2)))):
        words[i] = _typo(words[i], rng)
    return " ".join(words)


@cache
def training_set(intents: IntentCatalog) -> tuple[Example, ...]:
    """The expanded, deterministic training set (same output on every call and machine)."""
    rng = random.Random(_SEED)
    examples: list[Example] = []
    for index, (phrasing, intent) in enumerate(load_phrasings(intents)):
        masked = _fill(phrasing, rng, masked=True)
        filled = _wrap(_fill(phrasing, rng, masked=False), rng)
        noisy = _noisy(rng.choice((masked, filled)), rng)
        for text in dict.fromkeys((masked, filled, noisy)):
            examples.append(Example(text, intent, index))
    return tuple(examples)
