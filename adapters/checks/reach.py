"""The factors a provider reaches for a person, read from what the directory has registered."""

from __future__ import annotations

from collections.abc import Container

from bot.models import FactorKind
from bot.ports import FACTOR_STRENGTH, Directory, Reach


async def registered_reach(
    directory: Directory, username: str, reaches: Container[FactorKind]
) -> tuple[Reach, ...]:
    """The person's registered factors among `reaches`, strongest first, each with the
    address the directory has on record for it (a factor without one is left out)."""
    person = await directory.person(username)
    if person is None:
        return ()
    found = []
    for factor in FACTOR_STRENGTH:
        if factor in reaches and factor in person.factors:
            address = await directory.factor_address(username, factor)
            if address:
                found.append(Reach(factor=factor, address=address))
    return tuple(found)
