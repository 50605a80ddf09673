"""A new joiner, read from an onboarding request: their name, their manager, and where
they start. What the message does not say, the desk asks; nothing here is guessed from an
org's names but the people the directory already has (for the manager)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.models import Person

_WORD = r"[\w'\u2019-]+"  # letters, digits, apostrophes (straight or curly) and hyphens
_PARTICLE = r"(?:van|von|de|da|del|di|le|la|du|bin|al)?"
_NAME = rf"([A-Z]{_WORD}(?:\s+{_PARTICLE}\s*[A-Z]{_WORD}){{1,2}})"
_NAME_AFTER = re.compile(
    r"(?:new\s+(?:hire|joiner|starter|employee|colleague|team\s+member|contractor|intern)"
    r"(?:\s+called|\s+named|\s*,|\s*:)?|onboard(?:ing)?|set\s+up(?:\s+an?)?\s+(?:account|accounts)"
    r"\s+for|create(?:\s+an?)?\s+(?:account|accounts|login)\s+for|account\s+for|"
    r"welcome|joiner\s+is|starter\s+is|hire\s+is|named|called)\s+" + _NAME
)
_NAME_BEFORE = re.compile(
    _NAME + r"\s+(?:is\s+|will\s+be\s+)?(?:starting|starts|joining|joins|begins|arrives)\b"
)
_ANY_NAME = re.compile(r"(?<![.!?]\s)(?<!^)" + _NAME)  # capitalised words inside a sentence
_MANAGER = re.compile(
    r"(?:under|reporting\s+to|reports\s+to|report\s+to|manager(?:\s+is|\s+will\s+be|:)?|"
    r"managed\s+by|line\s+manager(?:\s+is)?|working\s+for|joining)\s+([\w'\u2019.-]+(?:\s+[\w'\u2019-]+)?)",
    re.IGNORECASE,
)
_TEAM_OF = re.compile(
    rf"\b(?:on|in|to|join(?:s|ing)?)\s+({_WORD})['\u2019]s\s+team\b", re.IGNORECASE
)
_TITLE = re.compile(
    r"\bas\s+(?:an?|our|the)\s+([a-zA-Z][\w /&-]{2,60}?)(?=[,.;!?]|\s+(?:in|on|under|from|"
    r"starting|reporting|who|and|with)\b|$)"
)
_NOT_NAMES = frozenset(
    {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Next",
     "The", "Our", "New", "Please", "Hi", "Hello", "Thanks", "Team", "IT", "January",
    "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December", "I", "He", "She", "They", "Can", "Could"}
)  # fmt: skip


@dataclass(frozen=True)
class Joiner:
    """What an onboarding request says about the new person."""

    name: str | None = None
    manager: str | None = None  # a directory username
    department: str | None = None
    title: str | None = None


def read_joiner(text: str, people: list[Person], requester: Person) -> Joiner:
    """The joiner's name, manager, department and title, as far as `text` says them."""
    name = _name(text, people)
    manager = _manager(text, people, requester, name)
    departments = {p.department for p in people if p.department}
    department = next(
        (d for d in sorted(departments, key=len, reverse=True)
         if re.search(rf"\b{re.escape(d)}\b", text, re.IGNORECASE)),
        None,
    )  # fmt: skip
    title_match = _TITLE.search(text)
    title = title_match.group(1).strip() if title_match else None
    return Joiner(name=name, manager=manager, department=department, title=title)


def _name(text: str, people: list[Person]) -> str | None:
    known = {p.name.lower() for p in people}
    for pattern in (_NAME_AFTER, _NAME_BEFORE, _ANY_NAME):
        for match in pattern.finditer(text):
            words = [w for w in match.group(1).split() if w not in _NOT_NAMES]
            candidate = " ".join(words)
            if len(words) >= 2 and candidate.lower() not in known:
                return candidate
    return None


def _manager(text: str, people: list[Person], requester: Person, joiner: str | None) -> str | None:
    spans = [m.group(1) for m in _MANAGER.finditer(text)] + [
        m.group(1) for m in _TEAM_OF.finditer(text)
    ]
    for span in spans:
        if span.lower() in {"me", "myself"}:
            return requester.username
        words = re.split(r"[\s.,;:!?]+", span.strip())
        for tries in (" ".join(words[:2]), words[0]):  # "Carol Nguyen", else "Nina" of "Nina. Can"
            person = match_person(tries, people, exclude=joiner)
            if person is not None:
                return person.username
    if re.search(r"\b(?:my\s+team|my\s+new\s+(?:hire|report|starter)|reporting\s+to\s+me|"
                 r"under\s+me|my\s+direct\s+report)\b", text, re.IGNORECASE):  # fmt: skip
        return requester.username
    return None


def looks_like_name(text: str) -> bool:
    """Two to four capitalised words: "Lena Fischer", not "a new joiner"."""
    words = text.split()
    return 2 <= len(words) <= 4 and all(w[:1].isupper() and w not in _NOT_NAMES for w in words)


def match_person(text: str, people: list[Person], *, exclude: str | None = None) -> Person | None:
    """The directory person a short answer names: username, full name or a unique first
    name; None when nobody, or more than one person, fits."""
    wanted = _fold(text).strip(" .!?,")
    if not wanted:
        return None
    for person in people:
        if wanted in {person.username.lower(), _fold(person.name)}:
            return person
    words = wanted.split()
    firsts = [p for p in people if words and _fold(p.first_name) == words[0]]
    if exclude and words and _fold(exclude).split()[0] == words[0]:
        return None
    return firsts[0] if len(firsts) == 1 else None


def username_for(name: str, taken: set[str]) -> str:
    """A free username for `name`: the first name, then first name and surname initial,
    then first.last, then a number."""
    parts = [re.sub(r"[^a-z0-9]", "", _fold(w)) for w in name.split()]
    parts = [p for p in parts if p] or ["newhire"]
    first, last = parts[0], parts[-1]
    for candidate in (first, f"{first}{last[0]}", f"{first}.{last}"):
        if candidate not in taken:
            return candidate
    n = 2
    while f"{first}.{last}{n}" in taken:
        n += 1
    return f"{first}.{last}{n}"


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.lower()
