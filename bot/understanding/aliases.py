"""The ways people write a group's or an app's name, and finding them in a message.

`group_aliases` and `software_aliases` list the forms of one name: the id, the display name,
without "(read)", without the vendor or the word "group", initials ("vs code"), run
together ("vscode"), an acronym the name carries ("PACS" of "PACS Image Viewer"), and an
app's brand alone ("zoom" of "Zoom Workplace", "spss" of "IBM SPSS Statistics"). An
`AliasTable` finds them in the words of a message: exactly, as a word-by-word abbreviation
("firmware repos"), as a run of words from inside a longer name ("clinical guidelines wiki"
of "Clinical Guidelines Wiki Editors", when enabled), or with rapidfuzz for a typo
("finanse").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.understanding.lexicon import (
    EDITION_WORDS,
    GROUP_GENERIC,
    KNOWN_APPS,
    NICKNAMES,
    STOPWORDS,
    VENDOR_WORDS,
)
from bot.understanding.text import stem, tokens
from bot.understanding.training import ordinary_words

__all__ = ["FUZZY_CUTOFF", "Alias", "AliasTable", "Hit", "group_aliases", "software_aliases"]

_PARENS = re.compile(r"\([^)]*\)")
_MAX_WINDOW = 6
FUZZY_CUTOFF = 88.0
_FUZZY_MIN_CHARS = 6
_ABBREVIATION_SCORE = 90.0
# A run of words from inside one longer name: a name, but less sure than the whole of it.
_RUN_SCORE = 89.0
# An acronym or a brand taken from a longer name: sure, yet the whole name wins a tie.
_PART_SCORE = 96.0
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class Alias:
    """One way of writing an entity's name."""

    key: str  # stemmed tokens joined by one space
    entity: str
    size: int  # how many tokens the alias had before it was run together
    score: float = 100.0  # what an exact match of this alias is worth


@dataclass(frozen=True)
class Hit:
    """An alias found in a message, by token positions."""

    entity: str
    start: int  # token index
    end: int
    score: float
    size: int


def _words(text: str) -> list[str]:
    return [stem(word) for word, _, _ in tokens(text)]


class AliasTable:
    """Aliases of one kind of entity (groups or software) with exact and fuzzy lookup.

    A fuzzy window never starts or ends on an `edge` word, so "to finance" or "newsletter
    list" cannot win over the exact "finance" or "newsletter". With `runs`, a run of two or
    more words from inside a longer alias names its entity too ("guidelines wiki"), unless a
    word of the run is on its own the name of another entity ("engineering wiki" when there
    is an Engineering group): then the run names both, and the desk asks.
    """

    def __init__(
        self, aliases: Iterable[Alias], edge: frozenset[str] = STOPWORDS, *, runs: bool = False
    ) -> None:
        self.edge = edge
        self.exact: dict[str, list[Alias]] = {}
        for alias in aliases:
            bucket = self.exact.setdefault(alias.key, [])
            same = [a for a in bucket if a.entity == alias.entity]
            if not same:
                bucket.append(alias)
            elif alias.score > same[0].score:
                bucket[bucket.index(same[0])] = alias
        # runs of words from inside longer multi-word aliases -> the entities they belong to
        self.runs: dict[str, set[str]] = {}
        if runs:
            for key, bucket in self.exact.items():
                parts = key.split()
                for size in range(2, len(parts)):
                    for start in range(len(parts) - size + 1):
                        run = parts[start : start + size]
                        if run[0] in edge or run[-1] in edge:
                            continue
                        self.runs.setdefault(" ".join(run), set()).update(a.entity for a in bucket)
        self.fuzzy_keys = [key for key in self.exact if len(key) >= _FUZZY_MIN_CHARS]
        # multi-word aliases by (word count, first three letters), for abbreviations
        self.by_start: dict[tuple[int, str], list[str]] = {}
        for key in self.exact:
            parts = key.split()
            if len(parts) > 1:
                self.by_start.setdefault((len(parts), parts[0][:3]), []).append(key)
        self.token_sets: dict[str, list[frozenset[str]]] = {}
        for key, bucket in self.exact.items():
            for alias in bucket:
                self.token_sets.setdefault(alias.entity, []).append(frozenset(key.split()))

    def hits(self, words: Sequence[str]) -> list[Hit]:
        found: list[Hit] = []
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + _MAX_WINDOW) + 1):
                window = words[i:j]
                key = " ".join(window)
                exact = self.exact.get(key)
                if exact:
                    found += [Hit(a.entity, i, j, a.score, a.size) for a in exact]
                elif abbreviated := self._abbreviations(window):
                    found += [Hit(a.entity, i, j, _ABBREVIATION_SCORE, a.size) for a in abbreviated]
                elif key in self.runs:
                    found += [Hit(e, i, j, _RUN_SCORE, 1) for e in self._run(window, key)]
                elif self._fuzzy_candidate(window, key):
                    for match, score, _ in process.extract(
                        key, self.fuzzy_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
                    ):
                        if match[0] == key[0]:
                            found += [Hit(a.entity, i, j, score, a.size) for a in self.exact[match]]
        return found

    def _run(self, window: Sequence[str], key: str) -> list[str]:
        """The entities a run of words from inside longer names points at: those names, and
        any entity a part of the run names on its own (then the run is ambiguous)."""
        entities = set(self.runs[key])
        for i in range(len(window)):
            for j in range(i + 1, len(window) + 1):
                if (i, j) != (0, len(window)):
                    part = self.exact.get(" ".join(window[i:j]), [])
                    entities.update(a.entity for a in part if a.score >= 100.0)
        return sorted(entities)

    def _abbreviations(self, window: Sequence[str]) -> list[Alias]:
        """Aliases this window abbreviates word by word ("firmware repos", "payroll admin")."""
        if len(window) < 2 or any(len(word) < 3 for word in window):
            return []
        found: list[Alias] = []
        for key in self.by_start.get((len(window), window[0][:3]), []):
            parts = key.split()
            if all(part.startswith(word) for part, word in zip(parts, window, strict=True)):
                found += self.exact[key]
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


def _acronyms(name: str) -> list[str]:
    """Words a display name writes in capitals ("PACS", "EHR"): distinctive on their own."""
    return [stem(word) for word, _, _ in tokens(name) if _ACRONYM.match(word)]


def group_aliases(group_id: str, name: str) -> list[Alias]:
    forms = [_words(group_id), _words(name), _words(_PARENS.sub(" ", name))]
    aliases: list[Alias] = []
    for form in forms:
        core = [w for w in form if w not in GROUP_GENERIC]
        for variant in (form, core):
            if variant:
                aliases.append(Alias(" ".join(variant), group_id, len(variant)))
                if len(variant) > 1:
                    aliases.append(Alias("".join(variant), group_id, len(variant)))
    whole = _words(name)
    for acronym in _acronyms(name):
        if len(whole) > 1 and acronym not in GROUP_GENERIC:
            aliases.append(Alias(acronym, group_id, 1, _PART_SCORE))
    return aliases


_KNOWN_APP_WORDS = frozenset(stem(app) for app in KNOWN_APPS if app.isalnum())


def software_aliases(software_id: str, name: str) -> list[Alias]:
    forms = [_words(software_id), _words(name)]
    forms.append([w for w in _words(software_id) if w not in VENDOR_WORDS])
    bare = [w for w in _words(name) if w not in VENDOR_WORDS]
    forms.append(bare)
    forms.append([w for w in bare if w not in EDITION_WORDS] or bare)
    if len(bare) >= 3:  # "visual studio code" -> "vs code"
        forms.append(["".join(w[0] for w in bare[:-1]), bare[-1]])
    for product, nicknames in NICKNAMES.items():
        product_words = _words(product)
        if product_words in (forms[1], bare) or " ".join(bare) in nicknames:
            forms += [_words(nick) for nick in nicknames] + [product_words]
    aliases: list[Alias] = []
    for form in forms:
        if form:
            aliases.append(Alias(" ".join(form), software_id, len(form)))
            if len(form) > 1:
                aliases.append(Alias("".join(form), software_id, len(form)))
    if len(bare) > 1:  # the brand of a longer name: "zoom" of "Zoom Workplace"
        brands = [w for w in bare if w in _KNOWN_APP_WORDS]
        brands += [w for w in _acronyms(name) if w == bare[0]]  # "SPSS", not "SSH" of PuTTY
        for brand in dict.fromkeys(brands):
            if brand not in VENDOR_WORDS:
                aliases.append(Alias(brand, software_id, 1, _PART_SCORE))
    return aliases
