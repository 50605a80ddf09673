"""Reading an org file's YAML while keeping the node tree, so that every problem found later
can be reported with the line it is on, and so that duplicate keys (which plain YAML loading
silently resolves to the last one) are caught."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.org_checks import Loc, OrgProblem


@dataclass(frozen=True)
class YamlDocument:
    """The parsed data, the problems found while parsing, and the node tree for line lookups."""

    data: Any
    problems: list[OrgProblem] = field(default_factory=list)
    root: Node | None = None

    def line_of(self, loc: Loc) -> int | None:
        """The line (1-based) of the deepest part of `loc` present in the file."""
        node, line = self.root, None
        for part in loc:
            if isinstance(node, MappingNode):
                matches = [(k, v) for k, v in node.value if _key(k) == str(part)]
                if not matches:
                    break
                key_node, node = matches[-1]
                line = key_node.start_mark.line + 1
            elif isinstance(node, SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line


# libyaml's parser (when PyYAML has it) reads a 10,000-person org file in a fraction of the
# time of the pure-Python one; a file it refuses is read again by the pure-Python one, so that
# problems are reported in the same words and at the same lines either way.
_Loader = type[yaml.SafeLoader | yaml.CSafeLoader]
_FAST_LOADER: _Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str) -> YamlDocument:
    """Parse YAML safely; syntax errors become problems with their line, not exceptions."""
    if _FAST_LOADER is not yaml.SafeLoader:
        try:
            return _read(text, _FAST_LOADER)
        except yaml.YAMLError:
            pass
    try:
        return _read(text, yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = "; ".join(part for part in (exc.context, exc.problem) if part)
        line = mark.line + 1 if mark else None
        return YamlDocument(None, [OrgProblem((), f"YAML syntax error: {reason}", line)])
    except yaml.YAMLError as exc:
        return YamlDocument(None, [OrgProblem((), f"YAML syntax error: {exc}")])


def _read(text: str, loader_class: _Loader) -> YamlDocument:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    finally:
        loader.dispose()
    return YamlDocument(data, _duplicate_keys(root, (), set()) if root else [], root)


def _key(node: Node) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


def _duplicate_keys(node: Node, loc: Loc, seen_nodes: set[int]) -> list[OrgProblem]:
    if id(node) in seen_nodes:  # an alias to a node already walked
        return []
    seen_nodes.add(id(node))
    problems: list[OrgProblem] = []
    if isinstance(node, MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = _key(key_node)
            if key is None:
                continue
            if key in keys:
                problems.append(
                    OrgProblem(
                        (*loc, key),
                        "duplicate key: the later entry would silently replace the earlier one",
                        key_node.start_mark.line + 1,
                    )
                )
            keys.add(key)
            problems.extend(_duplicate_keys(value_node, (*loc, key), seen_nodes))
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(_duplicate_keys(item, (*loc, index), seen_nodes))
    return problems
