"""The part of OData's `$filter` the fake Graph understands: comparisons (`eq`, `ne`, `ge`,
`gt`, `le`, `lt`) of a property path with a string, number, boolean or date-time literal,
a lambda `any` over a collection (`otherMails/any(m:m eq 'x')`), `and`, `or` and
parentheses. Strings compare without regard to case, as Graph's directory filters do. An
expression it cannot parse is a `ValueError` (Graph's 400 Request_UnsupportedQuery)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<when>\d{4}-\d\d-\d\dT[\d:.]+Z)|(?P<num>-?\d+)"
    r"|(?P<name>[A-Za-z_@][\w.]*(?:/[A-Za-z_]\w*)*)|(?P<sym>[():]))"
)
_OPS = {"eq", "ne", "ge", "gt", "le", "lt"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    found, at = [], 0
    while at < len(text.rstrip()):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise ValueError(f"cannot parse the filter at {text[at : at + 20]!r}")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        value: Any = raw
        if kind == "str":
            value = raw[1:-1].replace("''", "'")
        elif kind == "num":
            value = int(raw)
        elif kind == "when":
            value = _when(raw)
        elif kind == "name" and raw in {"true", "false"}:
            kind, value = "bool", raw == "true"
        found.append((kind, value))
        at = match.end()
    return found


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", value):
            return _when(value)
        return value.lower()
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    a, b = _comparable(left), _comparable(right)
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if a is None or b is None:
        return False
    return bool({"ge": a >= b, "gt": a > b, "le": a <= b, "lt": a < b}[op])


def _at(item: Any, path: str) -> Any:
    for part in path.split("/"):
        item = item.get(part) if isinstance(item, dict) else None
    return item


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def take(self, kind: str | None = None, value: Any = None) -> Any:
        if self.at >= len(self.tokens):
            raise ValueError("the filter ends too soon")
        got_kind, got = self.tokens[self.at]
        if (kind and got_kind != kind) or (value is not None and got != value):
            raise ValueError(f"unexpected {got!r} in the filter")
        self.at += 1
        return got

    def peek(self, value: str) -> bool:
        return self.at < len(self.tokens) and self.tokens[self.at][1] == value

    def either(self) -> Predicate:
        terms = [self.both()]
        while self.peek("or"):
            self.take()
            terms.append(self.both())
        return lambda item: any(term(item) for term in terms)

    def both(self) -> Predicate:
        terms = [self.atom()]
        while self.peek("and"):
            self.take()
            terms.append(self.atom())
        return lambda item: all(term(item) for term in terms)

    def atom(self) -> Predicate:
        if self.peek("("):
            self.take()
            inner = self.either()
            self.take("sym", ")")
            return inner
        path = self.take("name")
        if path.endswith("/any"):
            collection = path[: -len("/any")]
            self.take("sym", "(")
            var = self.take("name")
            self.take("sym", ":")
            self.take("name", var)
            op, literal = self.comparison()
            self.take("sym", ")")
            return lambda item: any(_compare(op, v, literal) for v in (_at(item, collection) or []))
        op, literal = self.comparison()
        return lambda item: _compare(op, _at(item, path), literal)

    def comparison(self) -> tuple[str, Any]:
        op = self.take("name")
        if op not in _OPS:
            raise ValueError(f"unsupported operator {op!r}")
        kind, value = self.tokens[self.at] if self.at < len(self.tokens) else ("", None)
        if kind not in {"str", "num", "when", "bool"}:
            raise ValueError("a comparison needs a literal")
        self.at += 1
        return op, value


def parse_filter(text: str) -> Predicate:
    parser = _Parser(text)
    predicate = parser.either()
    if parser.at != len(parser.tokens):
        raise ValueError("trailing words in the filter")
    return predicate
