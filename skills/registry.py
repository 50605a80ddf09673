"""The skills the desk may run, registered explicitly at start-up, and which serves each
intent. Registration checks a skill's declaration once, so a mistake fails at start-up."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.intents import IntentSpec
from bot.texts import Catalogue, Text
from skills.base import AnySkill, Skill, SkillParams

REQUIRED_TEXTS = ("title", "step")  # every skill has a label and names its steps


class SkillRegistry:
    """The skills the desk may run, registered explicitly at start-up."""

    def __init__(self) -> None:
        self._skills: dict[str, AnySkill] = {}
        self._by_intent: dict[str, AnySkill] = {}
        self._files: dict[Path, Catalogue] = {}
        self._texts: Catalogue | None = None

    def register(self, skill: AnySkill) -> None:
        name = getattr(skill, "name", None)
        if not name:
            raise TypeError(f"{type(skill).__name__} has no name")
        if name in self._skills:
            raise ValueError(f"skill {name!r} is registered twice")
        for method in ("preconditions", "execute", "verify"):
            if not inspect.iscoroutinefunction(getattr(skill, method)):
                raise TypeError(f"{name}.{method} must be async")
        if not isinstance(getattr(skill, "Params", None), type) or not issubclass(
            skill.Params, SkillParams
        ):
            raise TypeError(f"{name}.Params must be a SkillParams model")
        for spec in skill.intents:
            if spec.name in self._by_intent:
                other = self._by_intent[spec.name].name
                raise ValueError(f"intent {spec.name!r} is served by {other} and {name}")
            if not spec.examples.is_file():
                raise ValueError(
                    f"{name}: intent {spec.name!r} has no phrasings at {spec.examples}"
                )
        if skill.intents and type(skill).plan is Skill.plan:
            raise TypeError(f"{name} serves intents but does not say how it plans them")
        path = skill.texts.resolve()
        said = self._files.get(path) or Catalogue.load([path], prefix="skill.")
        for key in REQUIRED_TEXTS:
            if not said.has(f"skill.{name}.{key}"):
                raise ValueError(f"{name}: no [{name}] {key} in {skill.texts}")
        self._files[path] = said
        self._texts = None
        self._skills[name] = skill
        self._by_intent.update({spec.name: skill for spec in skill.intents})

    def get(self, name: str) -> AnySkill:
        return self._skills[name]

    def __contains__(self, name: object) -> bool:
        return name in self._skills

    def for_intent(self, intent: str) -> AnySkill | None:
        """The skill that serves requests of `intent` (None: the desk itself, or a human)."""
        return self._by_intent.get(intent)

    def intents(self) -> tuple[IntentSpec, ...]:
        """Every intent a registered skill serves, in registration order."""
        return tuple(spec for skill in self._skills.values() for spec in skill.intents)

    def names(self) -> list[str]:
        return list(self._skills)

    def all(self) -> list[AnySkill]:
        return list(self._skills.values())

    def texts(self) -> Catalogue:
        """Every registered skill's sentences, one catalogue (keys `skill.<name>.<key>`)."""
        if self._texts is None:
            merged = Catalogue({})
            for said in self._files.values():
                merged = merged.merged(said)
            self._texts = merged
        return self._texts

    def render(self, said: Text) -> str:
        return self.texts().render(said)

    def title(self, name: str) -> str:
        """The label people read for a skill ("Add to group")."""
        return self.texts().say(f"skill.{name}.title")

    def step(self, name: str, args: Mapping[str, Any]) -> str:
        """One step in a few words, for cards and tickets ("add to group finance-reports"):
        the skill's `step`, or its `step_short` when a value it names is missing."""
        texts = self.texts()
        for key in (f"skill.{name}.step", f"skill.{name}.step_short"):
            if texts.has(key) and all(args.get(v) for v in texts.placeholders(key)):
                return texts.say(key, **{v: args[v] for v in texts.placeholders(key)})
        return self.title(name) if name in self._skills else name.replace("_", " ")

    def check_inverses(self) -> None:
        for skill in self._skills.values():
            if skill.inverse is not None and skill.inverse not in self._skills:
                raise ValueError(f"{skill.name}: inverse {skill.inverse!r} is not registered")
