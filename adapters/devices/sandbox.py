"""Sandbox device management: the org's laptops and desktops, what is installed on them, and
the software catalogue, held in Redis."""

from __future__ import annotations

from redis.asyncio.client import Pipeline

from adapters.records import JsonRecords
from bot.models import Device, SoftwareItem
from bot.org import Org
from bot.store import Store


class SandboxDevices:
    """The `Devices` port over Redis. Installed software keeps the order it was installed in
    and never lists an application twice."""

    def __init__(self, store: Store) -> None:
        self._store = store.child("devices")
        self._devices = JsonRecords(self._store, "device", Device)
        self._catalogue = JsonRecords(self._store, "software", SoftwareItem)

    def stage_seed(self, pipe: Pipeline, org: Org) -> None:
        """Queue the org's devices and catalogue on the seeding transaction."""
        for device in org.device_list():
            self._devices.stage(pipe, device.id, device)
        for item in org.catalogue():
            self._catalogue.stage(pipe, item.id, item)

    async def device(self, device_id: str) -> Device | None:
        return await self._devices.get(device_id)

    async def devices(self) -> list[Device]:
        return await self._devices.all()

    async def devices_of(self, username: str) -> list[Device]:
        return [device for device in await self._devices.all() if device.owner == username]

    async def install(self, device_id: str, software_id: str) -> None:
        await self._devices.update(
            device_id,
            lambda d: d if software_id in d.installed else d.model_copy(
                update={"installed": (*d.installed, software_id)}
            ),
        )  # fmt: skip

    async def uninstall(self, device_id: str, software_id: str) -> None:
        await self._devices.update(
            device_id,
            lambda d: d.model_copy(
                update={"installed": tuple(s for s in d.installed if s != software_id)}
            ),
        )

    async def lock(self, device_id: str) -> None:
        await self._devices.update(device_id, lambda d: d.model_copy(update={"locked": True}))

    async def catalogue(self) -> list[SoftwareItem]:
        """The catalogue, ordered by software id."""
        return await self._catalogue.all()
