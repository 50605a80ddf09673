"""The fake Okta's reading of `search` and `filter` expressions: `<attribute> eq|sw|co "<value>"`
joined by `and` / `or` with parentheses, values compared whatever their case, as Okta
documents for its list operations. Anything else is a `SyntaxError` (Okta's 400)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Match = Callable[[dict[str, Any]], bool]
_TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([A-Za-z_][\w.]*))')
_OPS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda have, want: have == want,
    "sw": lambda have, want: have.startswith(want),
    "co": lambda have, want: want in have,
}


def compile_expression(text: str) -> Match:
    tokens = _tokens(text)
    match, rest = _or(tokens)
    if rest:
        raise SyntaxError(f"unexpected {rest[0][1]!r}")
    return match


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    while at < len(text.rstrip()):
        found = _TOKEN.match(text, at)
        if found is None:
            raise SyntaxError(f"cannot read {text[at:]!r}")
        opening, closing, string, word = found.groups()
        if opening or closing:
            tokens.append(("paren", opening or closing))
        elif string is not None:
            tokens.append(("string", re.sub(r"\\(.)", r"\1", string)))
        else:
            tokens.append(("word", word))
        at = found.end()
    return tokens


def _or(tokens: list[tuple[str, str]]) -> tuple[Match, list[tuple[str, str]]]:
    left, rest = _and(tokens)
    while rest and rest[0] == ("word", "or"):
        right, rest = _and(rest[1:])
        left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
    return left, rest


def _and(tokens: list[tuple[str, str]]) -> tuple[Match, list[tuple[str, str]]]:
    left, rest = _term(tokens)
    while rest and rest[0] == ("word", "and"):
        right, rest = _term(rest[1:])
        left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
    return left, rest


def _term(tokens: list[tuple[str, str]]) -> tuple[Match, list[tuple[str, str]]]:
    if tokens and tokens[0] == ("paren", "("):
        inner, rest = _or(tokens[1:])
        if not rest or rest[0] != ("paren", ")"):
            raise SyntaxError("a parenthesis is not closed")
        return inner, rest[1:]
    if len(tokens) < 3 or tokens[0][0] != "word" or tokens[2][0] != "string":
        raise SyntaxError('expected: attribute operator "value"')
    (_, attribute), (_, op), (_, value) = tokens[:3]
    compare = _OPS.get(op.lower())
    if compare is None:
        raise SyntaxError(f"unsupported operator {op!r}")

    def match(record: dict[str, Any]) -> bool:
        have = _attribute(record, attribute)
        return have is not None and compare(str(have).casefold(), value.casefold())

    return match, tokens[3:]


def _attribute(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
