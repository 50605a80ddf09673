"""Runbooks the desk cites: the org's own (`knowledge` in the org file) and the general ones
shipped in `knowledge/*.md`, found by relevance with BM25.

A question matches a runbook when they share the words that say what it is about ("vpn",
"printer", "authenticator"); an unrelated question ("what's for lunch?") gets no runbook
rather than the least bad one. The org's runbooks win a tie against the general
ones: they name the org's own portal, network and printers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import bm25s

from bot.understanding.lexicon import KNOWN_APPS, STOPWORDS, SYSTEMS, word_set

__all__ = ["DEFAULT_DIR", "KnowledgeBase", "Runbook", "RunbookHit", "Runbooks", "read_runbooks"]

_BESIDE = Path(__file__).resolve().parents[1] / "knowledge"
# The source tree's runbooks; an installed desk (the Docker image) reads ./knowledge instead.
DEFAULT_DIR = _BESIDE if _BESIDE.is_dir() else Path.cwd() / "knowledge"
DEFAULT_MIN_SCORE = 0.1
_ORG_BOOST = 1.4
_TITLE_WEIGHT = 2  # the title counts as if written this many times
_TOPIC_BOOST = 1.5  # a runbook titled with the intent's topic, when the intent is known

_FOLDS = [
    (re.compile(r"\bwi[\s-]?fi\b|\bwireless\b|\bwlan\b"), "wifi"),
    (re.compile(r"\be[\s-]?mails?\b|\bmails?\b|\binbox\b|\bmailbox\b"), "email"),
    (re.compile(r"\b(?:2fa|multi[\s-]?factor|two[\s-]?factor|2[\s-]?step|authenticator)\b"), "mfa"),
    (re.compile(r"\b(?:anyconnect|globalprotect|forticlient|remote access)\b"), "vpn"),
    (re.compile(r"\b(?:print\w*|copier|scan\w*)\b"), "printer"),
    (re.compile(r"\b(?:headset|microphone|mic|speaker|sound|hear)\b"), "audio"),
    (re.compile(r"\b(?:log[\s-]?in|sign[\s-]?in)\b"), "signin"),
    (re.compile(r"\bpass[\s-]?words?\b|\bpw\b"), "password"),
    (re.compile(r"\b(?:sluggish|slowly|slower)\b"), "slow"),
]
_WORD = re.compile(r"[a-z0-9]+")
_NOISE = STOPWORDS | word_set(
    """not working work works broken issue issues problem problems keeps keep doesn't isn't
    won't wont cant cannot any every help fix still again today now"""
)
# extra query words for an intent, so "remote access fails at the hotel" finds the VPN page
_INTENT_WORDS: dict[str, str] = {
    "vpn_issue": "vpn",
    "wifi_issue": "wifi network",
    "email_issue": "email outlook",
    "printer_issue": "printer",
    "mfa_reset": "mfa",
    "password_reset": "password",
}


# Applications and systems a question may name. When a question about an application names
# one, a runbook that never mentions it is about something else ("RStudio crashes" is not
# answered by the Outlook page, however many words they share).
_PRODUCT = re.compile(
    r"(?<![\w-])("
    + "|".join(
        re.escape(name).replace(r"\-", r"[\s-]?")
        for name in sorted((KNOWN_APPS | SYSTEMS) - {"vpn"}, key=len, reverse=True)
    )
    + r")(?![\w-])",
    re.IGNORECASE,
)
_PRODUCT_INTENTS = frozenset({"software_issue"})


def _named_products(text: str) -> set[str]:
    """The known applications and systems `text` names, in one spelling each."""
    return {re.sub(r"[\s-]+", "", m.group(1).lower()) for m in _PRODUCT.finditer(text)}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # dropping -> dropp -> drop
            return word
    return word


def terms(text: str) -> list[str]:
    """Index terms: lowercase, spelling variants folded, noise words dropped, light stem."""
    text = text.lower()
    for pattern, replacement in _FOLDS:
        text = pattern.sub(replacement, text)
    return [_stem(w) for w in _WORD.findall(text) if w not in _NOISE and len(w) > 1]


@dataclass(frozen=True)
class Runbook:
    """A runbook: a title, a markdown body, where it came from ("org", a file name, a page's
    address) and, when it has one, the web address the desk cites."""

    title: str
    body: str
    source: str
    url: str | None = None


class RunbookHit(NamedTuple):
    """A runbook that matched a question, with its relevance score and the address it is
    cited by, when it has one."""

    title: str
    body: str
    score: float
    url: str | None = None


class Runbooks(Protocol):
    """Runbook retrieval: the best matches for a question, best first."""

    def search(
        self, text: str, k: int = 1, *, intent: str | None = None
    ) -> Sequence[RunbookHit]: ...


def read_runbooks(directory: Path) -> list[Runbook]:
    """The `*.md` runbooks in `directory`: the first `# ` heading is the title."""
    found = []
    for path in sorted(directory.glob("*.md")):
        text = path.read_text(encoding="utf-8").strip()
        first, _, rest = text.partition("\n")
        if first.startswith("# "):
            found.append(Runbook(first[2:].strip(), rest.strip(), path.name))
        else:
            found.append(Runbook(path.stem.replace("-", " ").capitalize(), text, path.name))
    return found


class KnowledgeBase:
    """BM25 retrieval over runbooks. Build with `KnowledgeBase.load` or from a list."""

    def __init__(self, runbooks: Iterable[Runbook], *, min_score: float = DEFAULT_MIN_SCORE):
        self.runbooks = list(runbooks)
        self.min_score = min_score
        self._titles = [set(terms(r.title)) for r in self.runbooks]
        self._terms = [set(terms(f"{r.title} {r.body}")) for r in self.runbooks]
        self._products = [_named_products(f"{r.title} {r.body}") for r in self.runbooks]
        self._retriever: bm25s.BM25 | None = None
        if self.runbooks:
            self._retriever = bm25s.BM25()
            corpus = [
                terms(" ".join([r.title] * _TITLE_WEIGHT + [r.body])) or [""] for r in self.runbooks
            ]
            self._retriever.index(corpus, show_progress=False)

    @classmethod
    def load(
        cls,
        org_knowledge: Mapping[str, str] | None = None,
        directory: Path | None = DEFAULT_DIR,
        *,
        min_score: float = DEFAULT_MIN_SCORE,
    ) -> KnowledgeBase:
        """The org's runbooks (title -> markdown) plus the general ones in `directory`."""
        runbooks = [Runbook(t, b.strip(), "org") for t, b in (org_knowledge or {}).items()]
        if directory is not None and directory.is_dir():
            runbooks += read_runbooks(directory)
        return cls(runbooks, min_score=min_score)

    def search(self, text: str, k: int = 1, *, intent: str | None = None) -> list[RunbookHit]:
        """The `k` most relevant runbooks, best first; none when nothing is relevant.

        BM25 ranks; whether a runbook is relevant at all is decided on words, so that it does
        not depend on how many runbooks there are: its title must share a word with the
        question (or with the intent's topic, when the caller knows the intent), because the
        title says what a runbook is about; and it must contain two of the question's words,
        or half of them. A question about an application that names one only gets a runbook
        that mentions it.
        """
        if self._retriever is None or k < 1:
            return []
        asked = set(terms(text))
        topic = set(terms(_INTENT_WORDS.get(intent or "", "")))
        wanted = asked | topic
        if not asked:
            return []
        scores = self._retriever.get_scores(sorted(wanted))
        named = _named_products(text) if intent in _PRODUCT_INTENTS else set()
        ranked: list[tuple[float, int]] = []
        for index, (runbook, score) in enumerate(zip(self.runbooks, scores, strict=True)):
            title, words = self._titles[index], self._terms[index]
            matched = len(wanted & words)
            if not title & wanted or (matched < 2 and matched < len(wanted) / 2):
                continue
            if named and not named & self._products[index]:
                continue
            # the org's own pages (its org file, its Confluence) name its own systems
            weight = _ORG_BOOST if runbook.source == "org" or runbook.url else 1.0
            if title & topic:
                weight *= _TOPIC_BOOST
            ranked.append((float(score) * weight, index))
        ranked.sort(key=lambda pair: (-pair[0], pair[1]))
        found = [(self.runbooks[i], score) for score, i in ranked[:k]]
        return [
            RunbookHit(runbook.title, runbook.body, round(score, 4), runbook.url)
            for runbook, score in found
            if score >= self.min_score
        ]

    def titles(self) -> Sequence[str]:
        return [r.title for r in self.runbooks]
