"""Platform identity -> directory person.

Slack and Teams tell the desk a verified e-mail address (or UPN) for the sender; the web chat
and the scenario runner are local tools whose user id is the directory username itself."""

from __future__ import annotations

from bot.models import Person, Turn
from bot.ports import Directory

# Platforms whose user id *is* the directory username (local, trusted front ends).
USERNAME_PLATFORMS = frozenset({"web", "scenario"})


async def resolve_person(turn: Turn, directory: Directory) -> Person | None:
    """The directory person behind a turn, or None when the sender is not in the directory."""
    if turn.user_email:
        person = await directory.person_by_email(turn.user_email.strip().lower())
        if person is not None:
            return person
    if turn.platform in USERNAME_PLATFORMS:
        return await directory.person(turn.user_id)
    return None
