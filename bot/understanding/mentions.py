"""Finding the org's names in a message: groups, software, people and devices.

`CatalogIndex` is built once per catalogue. For groups and software it lists the ways people
write each name (the id, the display name, without "(read)", without the vendor or the word
"group", run together) and matches windows of the message against them, exactly or with
rapidfuzz for typos. People are matched on username and names, devices on their ids. The
result is a list of `Mention`s with character spans, so the classifier can see "add me to
xxgroup" and the slot filler can pick ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from bot.models import Person
from bot.understanding.lexicon import (
    AMBIGUOUS_APP_WORDS,
    COMMON_WORD_NAMES,
    EDITION_WORDS,
    GROUP_CONTEXT,
    GROUP_GENERIC,
    NICKNAMES,
    PERSON_ACTIONS,
    SIGNAL_APPS,
    STOPWORDS,
    VENDOR_WORDS,
)
from bot.understanding.model import Catalog
from bot.understanding.text import stem, tokens
from bot.understanding.training import ordinary_words

__all__ = ["CatalogIndex", "Mention", "MentionKind"]

MentionKind = Literal["group", "software", "person", "device"]

_PARENS = re.compile(r"\([^)]*\)")
_MAX_WINDOW = 6
_FUZZY_CUTOFF = 88.0
_FUZZY_MIN_CHARS = 6


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


@dataclass(frozen=True)
class _Alias:
    key: str  # stemmed tokens joined by one space
    entity: str
    size: int  # how many tokens the alias had before it was run together


@dataclass(frozen=True)
class _Hit:
    entity: str
    start: int  # token index
    end: int
    score: float
    size: int


def _words(text: str) -> list[str]:
    return [stem(word) for word, _, _ in tokens(text)]


class _AliasTable:
    """Aliases of one kind of entity (groups or software) with exact and fuzzy lookup.

    A fuzzy window never starts or ends on an `edge` word, so "to finance" or "newsletter
    list" cannot win over the exact "finance" or "newsletter".
    """

    def __init__(self, aliases: Iterable[_Alias], edge: frozenset[str] = STOPWORDS) -> None:
        self.edge = edge
        self.exact: dict[str, list[_Alias]] = {}
        for alias in aliases:
            bucket = self.exact.setdefault(alias.key, [])
            if all(a.entity != alias.entity for a in bucket):
                bucket.append(alias)
        self.fuzzy_keys = [key for key in self.exact if len(key) >= _FUZZY_MIN_CHARS]
        self.token_sets: dict[str, list[frozenset[str]]] = {}
        for key, bucket in self.exact.items():
            for alias in bucket:
                self.token_sets.setdefault(alias.entity, []).append(frozenset(key.split()))

    def hits(self, words: Sequence[str]) -> list[_Hit]:
        found: list[_Hit] = []
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + _MAX_WINDOW) + 1):
                window = words[i:j]
                key = " ".join(window)
                exact = self.exact.get(key)
                if exact:
                    found += [_Hit(a.entity, i, j, 100.0, a.size) for a in exact]
                elif self._fuzzy_candidate(window, key):
                    for match, score, _ in process.extract(
                        key, self.fuzzy_keys, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF
                    ):
                        if match[0] == key[0]:
                            found += [
                                _Hit(a.entity, i, j, score, a.size) for a in self.exact[match]
                            ]
        return found

    def _fuzzy_candidate(self, window: Sequence[str], key: str) -> bool:
        # A typo is looked for only where there can be one: not in a run of ordinary words
        # ("password" is not a misspelt "1Password"), not starting or ending on a filler.
        return (
            len(key) >= _FUZZY_MIN_CHARS
            and not {window[0], window[-1]} & self.edge
            and not all(word in ordinary_words() for word in window)
        )

    def supersets(self, span_words: Iterable[str]) -> set[str]:
        """Entities with an alias that contains all of these words and more."""
        wanted = frozenset(span_words)
        return {
            entity
            for entity, sets in self.token_sets.items()
            if any(wanted < tokens_ for tokens_ in sets)
        }


def _group_aliases(group_id: str, name: str) -> list[_Alias]:
    forms = [_words(group_id), _words(name), _words(_PARENS.sub(" ", name))]
    aliases: list[_Alias] = []
    for form in forms:
        core = [w for w in form if w not in GROUP_GENERIC]
        for variant in (form, core):
            if variant:
                aliases.append(_Alias(" ".join(variant), group_id, len(variant)))
                if len(variant) > 1:
                    aliases.append(_Alias("".join(variant), group_id, len(variant)))
    return aliases


def _software_aliases(software_id: str, name: str) -> list[_Alias]:
    forms = [_words(software_id), _words(name)]
    bare = [w for w in _words(name) if w not in VENDOR_WORDS]
    forms.append(bare)
    forms.append([w for w in bare if w not in EDITION_WORDS] or bare)
    if len(bare) >= 3:  # "visual studio code" -> "vs code"
        forms.append(["".join(w[0] for w in bare[:-1]), bare[-1]])
    for product, nicknames in NICKNAMES.items():
        product_words = _words(product)
        if product_words in (forms[1], bare) or " ".join(bare) in nicknames:
            forms += [_words(nick) for nick in nicknames] + [product_words]
    aliases: list[_Alias] = []
    for form in forms:
        if form:
            aliases.append(_Alias(" ".join(form), software_id, len(form)))
            if len(form) > 1:
                aliases.append(_Alias("".join(form), software_id, len(form)))
    return aliases


class CatalogIndex:
    """Everything needed to find an org's names in a message, built once per catalogue."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.groups = _AliasTable(
            (a for g in catalog.groups for a in _group_aliases(g.id, g.name)),
            STOPWORDS | GROUP_GENERIC,
        )
        self.software = _AliasTable(
            a for s in catalog.software for a in _software_aliases(s.id, s.name)
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
        names.sort(key=lambda m: (m.score >= _FUZZY_CUTOFF, m.end - m.start, m.score), reverse=True)
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
                acted_on = index > 0 and spans[index - 1][0].lower() in PERSON_ACTIONS
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
        table: _AliasTable,
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
    kind: MentionKind, hit: _Hit, spans: Sequence[tuple[str, int, int]], words: Sequence[str]
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


def _partial_groups(
    table: _AliasTable,
    spans: Sequence[tuple[str, int, int]],
    words: Sequence[str],
    used: list[tuple[int, int]],
) -> list[Mention]:
    """A content word that is part of some groups' names ("marketing") is a weak mention."""
    found: list[Mention] = []
    for i, word in enumerate(words):
        if any(s <= i < e for s, e in used) or word in STOPWORDS or word in GROUP_GENERIC:
            continue
        if len(word) < 4 or not word.isalpha():
            continue
        ids = sorted(table.supersets([word]))
        if ids:
            found.append(Mention("group", tuple(ids), spans[i][1], spans[i][2], 70.0, False, False))
            used.append((i, i + 1))
    return found


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
