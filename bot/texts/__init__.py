"""Every sentence a person sees comes from one catalogue by key: `say("step_up.passed")`.

The wording is data (`bot/texts/en.toml` for the desk's own sentences, `skills/texts/` for
each skill's); code names keys and passes values. The few helpers here pick a key from a
reason, a capability or a queue, falling back to a general sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.texts.catalogue import Catalogue, CatalogueError, Text, placeholders, text

__all__ = ["DESK", "Catalogue", "CatalogueError", "Text", "placeholders", "say", "text"]

DESK = Catalogue.load([Path(__file__).with_name("en.toml")])


def say(key: str, /, **values: Any) -> str:
    """The desk's sentence `key` with `values` filled in."""
    return DESK.say(key, **values)


def _either(prefix: str, name: str | None, fallback: str) -> str:
    key = f"{prefix}.{name}"
    return say(key if name and DESK.has(key) else f"{prefix}.{fallback}")


def refusal(reason: str | None) -> str:
    """Why the desk will not do it, by policy's reason (a general refusal otherwise)."""
    return _either("refusal", reason, "not_allowed")


def unsupported(capability: str) -> str:
    """Why the desk hands an action to a human when the backend cannot do it at all."""
    return _either("unsupported", capability, "other")


def queue_label(queue: str) -> str:
    return _either("queue", queue, "other")


def change_notice(skill: str) -> str:
    """What a change notice says was requested ("a password reset ... was requested")."""
    key = f"change_notice.{skill}"
    if DESK.has(key):
        return say(key)
    return say("change_notice.other", skill=skill.replace("_", " "))


def not_it() -> str:
    return say("menu.not_it", what_i_do=say("menu.what_i_do"))


def already_decided(status: str, by: str | None) -> str:
    if status == "expired":
        return say("approval.already_expired")
    if by:
        return say("approval.already_decided_by", status=status, name=by)
    return say("approval.already_decided", status=status)
