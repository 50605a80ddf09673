"""A catalogue of sentences by key, read from TOML files: the only place wording lives.

A file's tables nest keys (`[step_up] passed = "..."` is `step_up.passed`). A sentence names
its values in braces (`{ticket_id}`); a table with `one` and `other` is a sentence that
depends on `{count}`. Rendering is strict: an unknown key, a missing value or a value the
sentence does not use is an error, so a renamed placeholder cannot slip through."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PLURAL = frozenset({"one", "other"})


class CatalogueError(ValueError):
    """A catalogue file is unreadable, or a sentence is asked for wrongly."""


@dataclass(frozen=True)
class Text:
    """A sentence to be said: its key and the values it names. What skills and services
    return instead of wording; the catalogue renders it."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


def text(key: str, /, **values: Any) -> Text:
    return Text(key, values)


def placeholders(sentence: str) -> frozenset[str]:
    """The values a sentence names."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(sentence) if name)


class Catalogue:
    """Sentences by key."""

    def __init__(self, entries: Mapping[str, str | Mapping[str, str]]) -> None:
        self._entries = dict(entries)

    @classmethod
    def load(cls, files: Iterable[Path], *, prefix: str = "") -> Catalogue:
        entries: dict[str, str | Mapping[str, str]] = {}
        for path in files:
            try:
                tree = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise CatalogueError(f"{path}: cannot read the text catalogue: {exc}") from exc
            for key, sentence in _flatten(tree, prefix, path):
                if key in entries:
                    raise CatalogueError(f"{path}: {key} is defined twice")
                entries[key] = sentence
        return cls(entries)

    def merged(self, other: Catalogue) -> Catalogue:
        """This catalogue with `other`'s sentences added; a key in both is an error."""
        twice = self._entries.keys() & other._entries.keys()
        if twice:
            raise CatalogueError(f"defined twice: {', '.join(sorted(twice))}")
        return Catalogue({**self._entries, **other._entries})

    def has(self, key: str) -> bool:
        return key in self._entries

    def keys_under(self, prefix: str = "") -> list[str]:
        """The keys that start with `prefix` (all of them by default), sorted."""
        return sorted(k for k in self._entries if k.startswith(prefix))

    def placeholders(self, key: str) -> frozenset[str]:
        entry = self._entries[key]
        if isinstance(entry, str):
            return placeholders(entry)
        return frozenset({"count"}).union(*(placeholders(s) for s in entry.values()))

    def say(self, key: str, /, **values: Any) -> str:
        entry = self._entries.get(key)
        if entry is None:
            raise CatalogueError(f"no sentence {key!r} in the catalogue")
        if not isinstance(entry, str):
            entry = entry["one" if values.get("count") == 1 else "other"]
        wanted = self.placeholders(key)
        missing, unused = wanted - values.keys(), values.keys() - wanted
        if missing or unused:
            raise CatalogueError(
                f"{key}: missing {sorted(missing)}, unused {sorted(unused)}"
                if missing and unused
                else f"{key}: missing {sorted(missing)}"
                if missing
                else f"{key}: unused {sorted(unused)}"
            )
        return entry.format(**values)

    def render(self, said: Text) -> str:
        return self.say(said.key, **said.values)


def _flatten(
    tree: Mapping[str, Any], prefix: str, path: Path
) -> Iterable[tuple[str, str | Mapping[str, str]]]:
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, str):
            yield key, value
        elif isinstance(value, dict) and value and value.keys() <= _PLURAL and "other" in value:
            if not all(isinstance(v, str) for v in value.values()):
                raise CatalogueError(f"{path}: {key}: a plural's forms must be text")
            yield key, value
        elif isinstance(value, dict):
            yield from _flatten(value, f"{key}.", path)
        else:
            raise CatalogueError(f"{path}: {key} must be text or a table, not {value!r}")
