"""Finding the org's names in a message: groups, software, people and devices.

`CatalogIndex` is built once per catalogue. Groups and software are found through their
aliases (`aliases.py`), people by username and names, devices by id. The result is a list
of non-overlapping `Mention`s with character spans, so the classifier can see "add me to
xxgroup" and the slot filler can pick ids. Single ordinary words ("it", "security",
"access") are names only with something around them that makes them one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.models import Person
from bot.understanding.aliases import (
    FUZZY_CUTOFF,
    AliasTable,
    Hit,
    group_aliases,
    software_aliases,
)
from bot.understanding.lexicon import (
    AMBIGUOUS_APP_WORDS,
    COMMON_WORD_NAMES,
    GROUP_CONTEXT,
    GROUP_GENERIC,
    PERSON_ACTIONS,
    RELATIONS,
    RELATIONS_WEAK,
    SIGNAL_APPS,
    STOPWORDS,
    VENDOR_WORDS,
    word_set,
)
from bot.understanding.model import Catalog
from bot.understanding.text import stem, tokens

__all__ = ["CatalogIndex", "Mention", "MentionKind"]

MentionKind = Literal["group", "software", "person", "device"]


@dataclass(frozen=True)
class Mention:
    """A name from the catalogue found in the message.

    `ids` holds one id when the mention is clear, several when it fits more than one entry
    equally well. `exact` is false for typo and partial matches; `maskable` says whether the
    classifier should see the placeholder instead of the words (true for unambiguous names,
    false for single ordinary words like "finance" that also mean something else).
    """

    kind: MentionKind
    ids: tuple[str, ...]
    start: int
    end: int
    score: float
    exact: bool
    maskable: bool
    requester: bool = False


class CatalogIndex:
    """Everything needed to find an org's names in a message, built once per catalogue."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.groups = AliasTable(
            (a for g in catalog.groups for a in group_aliases(g.id, g.name)),
            STOPWORDS | GROUP_GENERIC,
            runs=True,
        )
        self.software = AliasTable(
            a for s in catalog.software for a in software_aliases(s.id, s.name)
        )
        self.software_names = {s.id: s.name for s in catalog.software}
        self.people: dict[tuple[str, ...], set[str]] = {}
        for person in catalog.people:
            self._add_person(person)
        self.device_ids = {re.sub(r"[\s-]", "", d.id).lower(): d.id for d in catalog.devices}
        self.device_pattern = _device_pattern(d.id for d in catalog.devices)

    def _add_person(self, person: Person) -> None:
        names = [w.lower() for w, _, _ in tokens(person.name)]
        keys = {tuple(w.lower() for w, _, _ in tokens(person.username)), tuple(names)}
        keys |= {(name,) for name in names}
        for key in keys:
            if key:
                self.people.setdefault(key, set()).add(person.username)

    # --- finding ------------------------------------------------------------------------

    def find(self, text: str, requester: Person | None = None) -> list[Mention]:
        """Every catalogue name in `text` (already `clean`ed), in text order, no overlaps."""
        spans = tokens(text)
        words = [stem(word) for word, _, _ in spans]
        mentions = self._devices(text)
        mentions += self._people(text, spans, requester)
        taken = [(m.start, m.end) for m in mentions]
        # software and groups compete for the same words: the longer, surer name wins
        names = self._resolve("software", self.software, spans, words)
        names += self._resolve("group", self.groups, spans, words)
        names.sort(key=lambda m: (m.score >= FUZZY_CUTOFF, m.end - m.start, m.score), reverse=True)
        for mention in names:
            if not any(mention.start < end and start < mention.end for start, end in taken):
                mentions.append(mention)
                taken.append((mention.start, mention.end))
        return sorted(mentions, key=lambda m: m.start)

    def _devices(self, text: str) -> list[Mention]:
        if self.device_pattern is None:
            return []
        found = []
        for match in self.device_pattern.finditer(text):
            key = re.sub(r"[\s-]", "", match.group()).lower()
            device_id = self.device_ids.get(key)
            if device_id:
                found.append(
                    Mention("device", (device_id,), match.start(), match.end(), 100.0, True, True)
                )
        return found

    def _people(
        self, text: str, spans: Sequence[tuple[str, int, int]], requester: Person | None
    ) -> list[Mention]:
        found: list[Mention] = []
        index = 0
        while index < len(spans):
            for size in (3, 2, 1):
                window = spans[index : index + size]
                if len(window) < size:
                    continue
                key = tuple(word.lower() for word, _, _ in window)
                usernames = self.people.get(key)
                possessive = text[window[-1][2] : window[-1][2] + 2].lower() == "'s"
                acted_on = index > 0 and spans[index - 1][0].lower() in _NAMING_WORDS
                named = size > 1 or possessive or acted_on or _plausible_name(window[0][0])
                if usernames and named:
                    is_self = requester is not None and usernames == {requester.username}
                    found.append(
                        Mention(
                            "person",
                            tuple(sorted(usernames)),
                            window[0][1],
                            window[-1][2],
                            100.0,
                            True,
                            True,
                            is_self,
                        )
                    )
                    index += size
                    break
            else:
                index += 1
        return found

    def _resolve(
        self,
        kind: MentionKind,
        table: AliasTable,
        spans: Sequence[tuple[str, int, int]],
        words: Sequence[str],
    ) -> list[Mention]:
        hits = [h for h in table.hits(words) if _acceptable(kind, h, spans, words)]
        hits.sort(key=lambda h: (h.end - h.start, h.score, h.size), reverse=True)
        chosen: list[Mention] = []
        used: list[tuple[int, int]] = []
        for hit in hits:
            if any(hit.start < e and s < hit.end for s, e in used):
                continue
            same = [
                h
                for h in hits
                if (h.start, h.end) == (hit.start, hit.end) and h.score >= hit.score - 2
            ]
            ids = list(dict.fromkeys(h.entity for h in same))
            if kind == "group":
                ids += sorted(table.supersets(words[hit.start : hit.end]) - set(ids))
            size = max(h.size for h in same)
            followed = hit.end < len(words) and words[hit.end] in GROUP_CONTEXT
            signal = any(w.lower() in SIGNAL_APPS for w, _, _ in spans[hit.start : hit.end])
            maskable = (kind == "software" and not signal) or size > 1 or followed
            chosen.append(
                Mention(
                    kind,
                    tuple(ids),
                    spans[hit.start][1],
                    spans[hit.end - 1][2],
                    hit.score,
                    hit.score >= 100.0,
                    maskable and len(ids) == 1,
                )
            )
            used.append((hit.start, hit.end))
        if kind == "group":
            chosen += _partial_groups(table, spans, words, used)
        return chosen


def _acceptable(
    kind: MentionKind, hit: Hit, spans: Sequence[tuple[str, int, int]], words: Sequence[str]
) -> bool:
    """Single ordinary words ("it", "access", "word") need something that makes them a name."""
    if hit.end - hit.start > 1 or hit.size > 1:
        return True
    word, raw = words[hit.start], spans[hit.start][0]
    followed = hit.end < len(words) and words[hit.end] in GROUP_CONTEXT
    if kind == "group":
        return word not in STOPWORDS or followed
    if word in AMBIGUOUS_APP_WORDS or word in STOPWORDS:
        preceded = hit.start > 0 and words[hit.start - 1] in VENDOR_WORDS
        return (raw[:1].isupper() and hit.start > 0) or preceded
    return True


# words too general to point at a group on their own ("admin access to the server")
_NOT_PARTIAL = (
    STOPWORDS
    | GROUP_GENERIC
    | word_set(
        """admin administration administrator user server system data file production prod
        staging test dev general new report"""
    )
)


def _partial_groups(
    table: AliasTable,
    spans: Sequence[tuple[str, int, int]],
    words: Sequence[str],
    used: list[tuple[int, int]],
) -> list[Mention]:
    """A content word that is part of some groups' names ("marketing") is a weak mention."""
    found: list[Mention] = []
    for i, word in enumerate(words):
        if any(s <= i < e for s, e in used) or word in _NOT_PARTIAL:
            continue
        if len(word) < 4 or not word.isalpha():
            continue
        ids = sorted(table.supersets([word]))
        if ids:
            found.append(Mention("group", tuple(ids), spans[i][1], spans[i][2], 70.0, False, False))
            used.append((i, i + 1))
    return found


# Words after which a name that is also an everyday word is a name ("add frank", "for
# grace", "my colleague mark").
_NAMING_WORDS = PERSON_ACTIONS | RELATIONS | RELATIONS_WEAK | word_set("for")


def _plausible_name(word: str) -> bool:
    lowered = word.lower()
    if lowered in STOPWORDS and lowered not in {"will"}:
        return False
    if lowered in COMMON_WORD_NAMES:
        return word[:1].isupper()
    return True


def _device_pattern(device_ids: Iterable[str]) -> re.Pattern[str] | None:
    parts = []
    for device_id in device_ids:
        pieces = [re.escape(p) for p in re.split(r"[-\s]", device_id) if p]
        if pieces:
            parts.append(r"[-\s]?".join(pieces))
    if not parts:
        return None
    parts.sort(key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])", re.IGNORECASE)
