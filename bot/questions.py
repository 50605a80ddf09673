"""Reading a person's typed answer to a clarifying question: the option it names (by id, by
button label, or unambiguously by its words), or a new joiner's name or manager."""

from __future__ import annotations

from bot.models import Person
from skills.joiners import match_person


def exact_option(text: str, options: list[str], labels: list[str]) -> str | None:
    """The option the answer names exactly, by its id or by its button label."""
    wanted = text.strip().strip(".!").lower()
    for index, option in enumerate(options):
        label = labels[index] if index < len(labels) else option
        if wanted in {option.lower(), label.lower()}:
            return option
    return None


def only_option_named(text: str, options: list[str], labels: list[str]) -> str | None:
    """The one option the answer names, by its id as a word or every word of its label
    ("the tower, TW-4105"). When two are named and one's label is part of the other's
    ("Engineering" in "Engineering Wiki Editors"), the longer one is meant; otherwise two
    named is no answer: guessing would act on the wrong one."""
    words = set(_words(text))
    named: dict[str, set[str]] = {}
    for index, option in enumerate(options):
        label = set(_words(labels[index] if index < len(labels) else option))
        if option.lower() in words or (label and label <= words):
            named[option] = label
    specific = [
        o for o, label in named.items() if not any(label < other for other in named.values())
    ]
    return specific[0] if len(specific) == 1 else None


def joiner_answer(slot: str, text: str, people: list[Person]) -> str | None:
    """A typed answer to "what's their name?" or "who will be their manager?"."""
    if slot == "manager":
        found = match_person(text, people)
        return found.username if found else None
    name = " ".join(w for w in text.strip(" .!?").split() if w[:1].isalpha())
    name = name.title() if name.islower() else name
    return name if 2 <= len(name.split()) <= 4 and len(name) <= 80 else None


def _words(text: str) -> list[str]:
    return [w.strip(".,!?;:()'\"") for w in text.lower().split()]
