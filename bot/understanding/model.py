"""What understanding a message produces (`Understanding`), the intents it knows
(`IntentCatalog`: the desk's own and its skills'), and the org's `Catalog`: the names
(people, groups, devices, software) a message may mention, as the directory and the software
catalogue know them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Protocol

from bot.intents import DESK_INTENTS, UNKNOWN_PERSON, IntentSpec, spec_order
from bot.models import Catalog, Person, Queue, Understanding
from skills import default_skills

__all__ = [
    "DEFAULT_THRESHOLD",
    "UNKNOWN_PERSON",
    "Catalog",
    "CatalogFeed",
    "IntentCatalog",
    "Understander",
    "Understanding",
    "default_intents",
]

# Below this confidence the desk asks or escalates instead of acting on a guess.
DEFAULT_THRESHOLD = 0.55


@dataclass(frozen=True)
class IntentCatalog:
    """The intents an understanding knows: the desk's own and those its skills serve, in a
    stable order (`bot.intents.spec_order`: registering a skill never reorders the others)."""

    specs: tuple[IntentSpec, ...]

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.specs]
        if len(set(names)) != len(names):
            raise ValueError(f"an intent is declared twice: {sorted(names)}")

    @classmethod
    def of(cls, skill_intents: Iterable[IntentSpec]) -> IntentCatalog:
        """The desk's intents and `skill_intents` (`SkillRegistry.intents()`)."""
        return cls(tuple(sorted((*DESK_INTENTS, *skill_intents), key=spec_order)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def spec(self, name: str) -> IntentSpec:
        return self._by_name[name]

    def queue_of(self, name: str) -> Queue | None:
        spec = self._by_name.get(name)
        return spec.queue if spec else None

    @cached_property
    def _by_name(self) -> dict[str, IntentSpec]:
        return {spec.name: spec for spec in self.specs}


@cache
def default_intents() -> IntentCatalog:
    """The intents of the desk and of the skills the project ships."""
    return IntentCatalog.of(default_skills().intents())


class CatalogFeed(Protocol):
    """Where the understanding gets the org's names from (the ports, through a cache)."""

    async def current(self) -> Catalog: ...


class Understander(Protocol):
    """Turns a message into an intent, slots and a confidence (offline model or Claude)."""

    async def understand(self, text: str, *, requester: Person) -> Understanding: ...
