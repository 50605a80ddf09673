"""The steps of a scenario: what each line of `steps:` means, parsed strictly.

Each step is a one-key mapping. The key is a username from the org (or `wait`); the value is a
message, a step word (`verify`, `approve`, ...), an admin command (`/itdesk ...`), or one of
the two small mappings `{approve: <requester>}` and `{reply: <text>}`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


class StepError(ValueError):
    """A step that cannot be understood; `field` is the part of the step that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StepBase:
    """Where the step is (1-based) and how it was written, for failure messages."""

    number: int
    written: str

    @property
    def label(self) -> str:
        return f"step {self.number} ({self.written})"


@dataclass(frozen=True)
class Say(StepBase):
    """A direct message to the desk."""

    user: str
    text: str


@dataclass(frozen=True)
class Command(StepBase):
    """An admin slash command; `text` is what follows `/itdesk`."""

    user: str
    text: str


@dataclass(frozen=True)
class Verify(StepBase):
    """Complete (`passes`) or fail the pending out-of-band check."""

    user: str
    passes: bool


@dataclass(frozen=True)
class Decide(StepBase):
    """Approve or deny on the newest open approval card addressed to `user`."""

    user: str
    approve: bool


@dataclass(frozen=True)
class Undo(StepBase):
    """Undo on the newest status card offering it to `user`."""

    user: str


@dataclass(frozen=True)
class Feedback(StepBase):
    """ "That fixed it" (`helpful`) or "Still broken" on the newest runbook answer."""

    user: str
    helpful: bool


@dataclass(frozen=True)
class ForgedApproval(StepBase):
    """`user` clicks Approve on an approval card about `requester`'s request that was not
    addressed to them; the desk must refuse."""

    user: str
    requester: str


@dataclass(frozen=True)
class Claim(StepBase):
    """An on-call technician claims the newest unclaimed escalation."""

    user: str


@dataclass(frozen=True)
class Resolve(StepBase):
    """The claiming technician marks their case resolved."""

    user: str


@dataclass(frozen=True)
class ThreadReply(StepBase):
    """The claiming technician writes in the case's escalation thread."""

    user: str
    text: str


@dataclass(frozen=True)
class Wait(StepBase):
    """The sandbox clock moves on; scheduled work due on the way runs."""

    delta: timedelta


Step = (
    Say
    | Command
    | Verify
    | Decide
    | Undo
    | Feedback
    | ForgedApproval
    | Claim
    | Resolve
    | ThreadReply
    | Wait
)

WORDS = (
    "verify",
    "fail-verify",
    "approve",
    "deny",
    "undo",
    "helpful",
    "not-helpful",
    "claim",
    "resolve",
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+)([smhd])")
_WORDLIKE = re.compile(r"^[a-z]+(?:[-_][a-z]+)*$")


def parse_step(raw: Any, number: int, users: Collection[str]) -> Step:
    """One entry of `steps:`; raises `StepError` saying what is wrong with it."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise StepError("", 'a step is a one-key mapping: `alice: "text"` or `wait: 30m`')
    key, value = next(iter(raw.items()))
    if not isinstance(key, str):
        raise StepError("", f"a step starts with a username or `wait`, not {key!r}")
    written = f"{key}: {value if value in WORDS or key == 'wait' else _show(value)}"
    if key == "wait":
        return Wait(number, written, parse_duration(value))
    if key not in users:
        raise StepError(
            key,
            f"unknown user '{key}'{_hint(key, users)}; a step starts with a "
            "username from the org or `wait`",
        )
    if isinstance(value, str):
        return _text_step(key, value, number, written)
    if isinstance(value, dict):
        return _mapping_step(key, value, number, written, users)
    raise StepError(
        key,
        f"expected a message, a step word ({', '.join(WORDS)}) or a mapping, got {_show(value)}",
    )


def _text_step(user: str, value: str, number: int, written: str) -> Step:
    text = value.strip()
    simple: dict[str, Step] = {
        "verify": Verify(number, written, user, passes=True),
        "fail-verify": Verify(number, written, user, passes=False),
        "approve": Decide(number, written, user, approve=True),
        "deny": Decide(number, written, user, approve=False),
        "undo": Undo(number, written, user),
        "helpful": Feedback(number, written, user, helpful=True),
        "not-helpful": Feedback(number, written, user, helpful=False),
        "claim": Claim(number, written, user),
        "resolve": Resolve(number, written, user),
    }
    if text in simple:
        return simple[text]
    if not text:
        raise StepError(user, "empty message")
    if text.startswith("/"):
        command, _, rest = text.partition(" ")
        if command != "/itdesk":
            raise StepError(user, f"unknown slash command {command!r}: commands start /itdesk")
        return Command(number, written, user, rest.strip())
    # A lone lower-case word that is almost a step word is a typo, not a message.
    close = difflib.get_close_matches(text.replace("_", "-"), WORDS, n=1, cutoff=0.8)
    if _WORDLIKE.match(text) and close:
        raise StepError(user, f"unknown step '{text}' (did you mean '{close[0]}'?)")
    return Say(number, written, user, text)


def _mapping_step(
    user: str, value: dict[Any, Any], number: int, written: str, users: Collection[str]
) -> Step:
    if len(value) != 1:
        raise StepError(user, "expected one of {approve: <requester>} or {reply: <text>}")
    kind, arg = next(iter(value.items()))
    if kind == "approve":
        if not isinstance(arg, str) or arg not in users:
            raise StepError(f"{user}.approve", f"unknown user '{arg}'{_hint(arg, users)}")
        return ForgedApproval(number, written, user, arg)
    if kind == "reply":
        if not isinstance(arg, str) or not arg.strip():
            raise StepError(f"{user}.reply", "the reply must be non-empty text")
        return ThreadReply(number, written, user, arg.strip())
    raise StepError(f"{user}.{kind}", f"unknown step kind '{kind}': expected approve or reply")


def parse_duration(value: Any) -> timedelta:
    """`30m`, `73h`, `91d`, `1d12h`: whole numbers of s, m, h or d, more than nothing."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise StepError("wait", f"expected a duration such as 30m, 2h or 91d, got {_show(value)}")
    text = str(value).strip()
    if isinstance(value, int) or not text or _DURATION.sub("", text):
        raise StepError(
            "wait",
            f"bad duration {_show(value)}: write a number and a unit "
            "(s, m, h, d), e.g. 30m, 2h, 91d",
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))
    if seconds <= 0:
        raise StepError("wait", f"bad duration {_show(value)}: the clock must move forward")
    return timedelta(seconds=seconds)


def _hint(name: Any, users: Collection[str]) -> str:
    close = difflib.get_close_matches(str(name), list(users), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."
