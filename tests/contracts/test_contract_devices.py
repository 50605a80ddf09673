"""The `Devices` contract: devices and their owners, one catalogue item by id, installs,
removals and locks read back, NotFound, and capabilities device management may lack."""

from __future__ import annotations

import pytest
from backends import ORG, Backend, can

from bot.models import Device
from bot.ports import NotFoundError, Unsupported


async def device(backend: Backend, device_id: str) -> Device:
    found = await backend.devices.device(device_id)
    assert found is not None, f"{backend.name} has no {device_id}"
    return found


async def test_devices_read_as_seeded_and_by_owner(backend: Backend) -> None:
    for seeded in ORG.device_list():
        assert await backend.devices.device(seeded.id) == seeded
    assert await backend.devices.device("XX-0") is None
    assert [d.id for d in await backend.devices.devices_of("ben")] == ["LT-2", "PH-1"]
    assert await backend.devices.devices_of("mo") == []
    assert await backend.devices.devices_of("nobody") == []


async def test_one_catalogue_item_is_found_by_id(backend: Backend) -> None:
    for item in ORG.catalogue():
        assert await backend.devices.software(item.id) == item
    assert await backend.devices.software("no-such-app") is None
    assert [i.id for i in await backend.devices.catalogue()] == sorted(ORG.software)


async def test_installs_read_back_once_each_in_order(backend: Backend) -> None:
    devices = backend.devices
    if not await can(backend, "install", devices.install("LT-1", "editor")):
        assert (await device(backend, "LT-1")).installed == ("browser",)
        return
    await devices.install("LT-1", "editor")
    assert (await device(backend, "LT-1")).installed == ("browser", "editor")


async def test_removals_read_back(backend: Backend) -> None:
    devices = backend.devices
    if await can(backend, "uninstall", devices.uninstall("LT-1", "browser")):
        await devices.uninstall("LT-1", "browser")  # not installed: no change
        assert (await device(backend, "LT-1")).installed == ()
    else:
        assert (await device(backend, "LT-1")).installed == ("browser",)


async def test_a_lock_reads_back(backend: Backend) -> None:
    locked = await can(backend, "device_lock", backend.devices.lock("PH-1"))
    assert (await device(backend, "PH-1")).locked is locked


async def test_writes_to_unknown_devices_or_software_are_not_found(backend: Backend) -> None:
    devices = backend.devices
    for call, capability in (
        (devices.install("XX-0", "browser"), "install"),
        (devices.install("LT-1", "no-such-app"), "install"),
        (devices.uninstall("XX-0", "browser"), "uninstall"),
        (devices.lock("XX-0"), "device_lock"),
    ):
        with pytest.raises((NotFoundError, Unsupported)) as caught:
            await call
        assert isinstance(caught.value, NotFoundError) or capability in backend.lacks
    assert await device(backend, "LT-1") == next(d for d in ORG.device_list() if d.id == "LT-1")
