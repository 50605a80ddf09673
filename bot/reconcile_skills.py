"""What each skill changes in the backends when its record says it changed something, in the
terms of `bot.ports.BackendChange`: the changes `itdesk audit reconcile` looks for. A skill
missing here is reported, not skipped (`tests/test_reconcile.py` checks every shipped skill
has an entry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Target = tuple[str, tuple[tuple[str, str | bool], ...]]


@dataclass(frozen=True)
class Expected:
    """A change a record implies; `required` False when the skill makes it only sometimes
    (an MFA reset of a person with no factors left has none to forget)."""

    target: Target
    required: bool = True


def _change(op: str, required: bool = True, **fields: Any) -> Expected:
    shown = tuple(sorted((k, v if isinstance(v, bool) else str(v)) for k, v in fields.items()))
    return Expected((op, shown), required)


def _user(args: dict[str, Any]) -> str:
    return str(args.get("user", ""))


_SKILLS: dict[str, Callable[[dict[str, Any]], list[Expected]]] = {
    "add_to_group": lambda a: [_change("add_member", user=_user(a), group=a.get("group"))],
    "remove_from_group": lambda a: [_change("remove_member", user=_user(a), group=a.get("group"))],
    "unlock_account": lambda a: [_change("set_locked", user=_user(a), value=False)],
    "disable_account": lambda a: [_change("set_disabled", user=_user(a), value=True)],
    "enable_account": lambda a: [_change("set_disabled", user=_user(a), value=False)],
    "reset_mfa": lambda a: [
        _change("reset_factors", False, user=_user(a)),
        _change("send_enrolment_link", user=_user(a)),
    ],
    "reset_password": lambda a: [_change("send_reset_link", user=_user(a))],
    "revoke_sessions": lambda a: [_change("revoke_sessions", user=_user(a))],
    "lock_device": lambda a: [_change("lock", device=a.get("device"))],
    "install_software": lambda a: [
        _change("install", device=a.get("device"), software=a.get("software"))
    ],
    "uninstall_software": lambda a: [
        _change("uninstall", device=a.get("device"), software=a.get("software"))
    ],
    "create_account": lambda a: [_change("create_person", user=a.get("username"))],
}


def expected_changes(skill: str, args: dict[str, Any]) -> list[Expected] | None:
    """The changes a record of `skill` with `args` implies (None: a skill not known here)."""
    expected = _SKILLS.get(skill)
    return None if expected is None else expected(args)


def known_skills() -> frozenset[str]:
    return frozenset(_SKILLS)
