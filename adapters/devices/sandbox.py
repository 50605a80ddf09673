"""Sandbox device management: the org's laptops and desktops, what is installed on them, and
the software catalogue, held in Redis. Devices are indexed by owner, in the same transaction
as the device, so a person's devices are found without reading every device; each change
the port makes is logged in that transaction too (`changes`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from redis.asyncio.client import Pipeline

from adapters.capabilities import Capabilities
from adapters.changelog import RedisChangeLog
from adapters.records import JsonRecords, text
from bot.clock import Clock
from bot.models import Device, SoftwareItem
from bot.org import Org
from bot.ports import DEVICE_CAPABILITIES, BackendChange, ChangeOp, NotFoundError
from bot.store import Store


class SandboxDevices:
    """The `Devices` port over Redis. Installed software keeps the order it was installed in
    and never lists an application twice. `unsupported` names capabilities
    (`bot.ports.DEVICE_CAPABILITIES`) it acts as if it lacked."""

    def __init__(self, store: Store, clock: Clock, *, unsupported: Iterable[str] = ()) -> None:
        self.capabilities = Capabilities(unsupported, DEVICE_CAPABILITIES, "device management")
        self._store = store.child("devices")
        self._devices = JsonRecords(self._store, "device", Device)
        self._catalogue = JsonRecords(self._store, "software", SoftwareItem)
        self.changelog = self.change_log(store, clock)

    @staticmethod
    def change_log(store: Store, clock: Clock) -> RedisChangeLog:
        """The log of what the device management in `store` changed (read without its org)."""
        return RedisChangeLog(store.child("devices"), "devices", clock)

    def stage_seed(self, pipe: Pipeline, org: Org) -> None:
        """Queue the org's devices and catalogue on the seeding transaction."""
        devices = org.device_list()
        self._devices.stage_many(pipe, {device.id: device for device in devices})
        self.stage_indexes(pipe, *devices)
        self._catalogue.stage_many(pipe, {item.id: item for item in org.catalogue()})

    def stage_indexes(self, pipe: Pipeline, *devices: Device) -> None:
        """Queue the devices' entries in the owner index, one command per owner (idempotent,
        see the directory's)."""
        owned: dict[str, list[str]] = {}
        for device in devices:
            if device.owner is not None:
                owned.setdefault(self._owner_key(device.owner), []).append(device.id)
        for key, device_ids in owned.items():
            pipe.sadd(key, *device_ids)

    def _move_indexes(self, pipe: Pipeline, before: Device, after: Device) -> None:
        if before.owner is not None and before.owner != after.owner:
            pipe.srem(self._owner_key(before.owner), after.id)
        self.stage_indexes(pipe, after)

    def _owner_key(self, username: str) -> str:
        return self._store.key("owner", username)

    async def _update(
        self, device_id: str, change: Callable[[Device], Device], op: ChangeOp, **target: str
    ) -> Device:
        """Change a device, and in the same transaction its owner index and the change
        log's entry (none when the device was left as it was)."""

        def also(pipe: Pipeline, before: Device, after: Device) -> None:
            self._move_indexes(pipe, before, after)
            if after != before:
                self.changelog.stage(pipe, op, device=device_id, **target)

        return await self._devices.update(device_id, change, also=also)

    async def changes(self, since: datetime, until: datetime) -> list[BackendChange]:
        return await self.changelog.changes(since, until)

    async def device(self, device_id: str) -> Device | None:
        return await self._devices.get(device_id)

    async def devices(self) -> list[Device]:
        """Every device (the snapshot an admin sees; not for turns)."""
        return await self._devices.all()

    async def devices_of(self, username: str) -> list[Device]:
        owned = await self._store.redis.smembers(self._owner_key(username))
        return await self._devices.many(sorted(text(device_id) for device_id in owned))

    async def software(self, software_id: str) -> SoftwareItem | None:
        return await self._catalogue.get(software_id)

    async def install(self, device_id: str, software_id: str) -> None:
        self.capabilities.require("install")
        if await self._catalogue.get(software_id) is None:
            raise NotFoundError("software", software_id)
        await self._update(
            device_id,
            lambda d: d if software_id in d.installed else d.model_copy(
                update={"installed": (*d.installed, software_id)}
            ),
            "install", software=software_id,
        )  # fmt: skip

    async def uninstall(self, device_id: str, software_id: str) -> None:
        self.capabilities.require("uninstall")
        await self._update(
            device_id,
            lambda d: d.model_copy(
                update={"installed": tuple(s for s in d.installed if s != software_id)}
            ),
            "uninstall",
            software=software_id,
        )

    async def lock(self, device_id: str) -> None:
        self.capabilities.require("device_lock")
        await self._update(device_id, lambda d: d.model_copy(update={"locked": True}), "lock")

    async def catalogue(self) -> list[SoftwareItem]:
        """The catalogue, ordered by software id."""
        return await self._catalogue.all()
