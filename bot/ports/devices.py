"""Managed devices and the software catalogue: the `Devices` port."""

from __future__ import annotations

from typing import Protocol

from bot.models import Device, SoftwareItem


class Devices(Protocol):
    """Managed devices and the software catalogue."""

    async def device(self, device_id: str) -> Device | None: ...
    async def devices_of(self, username: str) -> list[Device]:
        """The devices the person owns, ordered by id."""
        ...

    async def software(self, software_id: str) -> SoftwareItem | None:
        """One catalogue item, or None when the catalogue has no such id."""
        ...

    # The writes raise `NotFoundError` for a device (or catalogue item) the backend does not
    # have, and `Unsupported` with the capability named when it cannot do it.

    async def install(self, device_id: str, software_id: str) -> None:
        """Install a catalogue item (installed already: no change). `Unsupported("install")`."""
        ...

    async def uninstall(self, device_id: str, software_id: str) -> None:
        """Remove an application (not installed: no change). `Unsupported("uninstall")`."""
        ...

    async def lock(self, device_id: str) -> None:
        """Lock the device remotely. `Unsupported("device_lock")`."""
        ...

    async def catalogue(self) -> list[SoftwareItem]:
        """The whole catalogue, ordered by id: for catalogue refreshes only."""
        ...

    async def devices(self) -> list[Device]:
        """Every managed device, ordered by id: for catalogue refreshes only."""
        ...
