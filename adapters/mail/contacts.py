"""The addresses on record a mail goes to. A code or a link goes to the first address in the
configured order (`ITDESK_EMAIL_CODE_ORDER`: the secondary address first by default, since
the primary mailbox is often behind the very account that is locked); a change notice goes
to every address, so a change nobody asked for is noticed wherever the person reads mail."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from bot.ports import ContactPoints, Directory

AddressKind = Literal["secondary", "primary"]
DEFAULT_ORDER: tuple[AddressKind, ...] = ("secondary", "primary")
_KINDS: dict[str, AddressKind] = {"secondary": "secondary", "primary": "primary"}


def address_order(order: Iterable[str]) -> tuple[AddressKind, ...]:
    """The order as the settings give it, checked: each of secondary, primary at most once."""
    kinds = tuple(order)
    if not kinds or set(kinds) - set(_KINDS) or len(set(kinds)) != len(kinds):
        raise ValueError(f"an address order names secondary and/or primary once each: {kinds}")
    return tuple(_KINDS[kind] for kind in kinds)


def first_address(points: ContactPoints, order: Iterable[AddressKind]) -> str | None:
    """Where a code or link goes: the first address on record in `order`."""
    for kind in order:
        address = points.email if kind == "primary" else points.secondary_email
        if address and address.strip():
            return address.strip()
    return None


def every_address(points: ContactPoints) -> list[str]:
    """Every address on record, the primary first, each once (case ignored)."""
    found: dict[str, str] = {}
    for address in (points.email, points.secondary_email):
        if address and address.strip():
            found.setdefault(address.strip().lower(), address.strip())
    return list(found.values())


class DirectoryContacts:
    """The `Contacts` port for a directory that records no more than a person's mailbox (the
    sandbox's, or any whose backend has no contact points): the primary address only."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def contact_points(self, username: str) -> ContactPoints | None:
        person = await self._directory.person(username)
        return None if person is None else ContactPoints(email=person.email)
