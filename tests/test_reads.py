"""Lookups remembered while a conversation is held (`bot.reads`): asked for once, forgotten
on any change the desk makes, and never remembered outside a held conversation."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from harness import ORG

from bot.clock import ManualClock
from bot.models import Person
from bot.reads import RememberingDevices, RememberingDirectory, remembered_reads
from bot.state.conversations import ConversationLocks
from bot.store import Store
from bot.world import SandboxWorld


@pytest.fixture
async def world(store: Store) -> SandboxWorld:
    clock = ManualClock(ORG.now)  # type: ignore[arg-type]
    return await SandboxWorld.create(store.child("world"), ORG, clock, reset=True)


def counting(monkeypatch: pytest.MonkeyPatch, backend: Any, *methods: str) -> Counter[str]:
    """Count the calls that reach the backend."""
    calls: Counter[str] = Counter()
    for name in methods:
        original = getattr(backend, name)

        async def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
            calls[_name] += 1
            return await _original(*args)

        monkeypatch.setattr(backend, name, counted)
    return calls


async def test_outside_a_held_conversation_every_lookup_reaches_the_backend(
    world: SandboxWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(monkeypatch, world.directory, "person")
    directory = RememberingDirectory(world.directory)
    await directory.person("peter")
    await directory.person("peter")
    assert calls["person"] == 2


async def test_a_lookup_is_asked_once_and_forgotten_on_a_change(
    world: SandboxWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(monkeypatch, world.directory, "person", "people_with_role")
    directory = RememberingDirectory(world.directory)
    with remembered_reads():
        before = await directory.person("peter")
        assert await directory.person("peter") == before
        await directory.people_with_role("oncall")
        await directory.people_with_role("oncall")
        assert calls == {"person": 1, "people_with_role": 1}
        assert before is not None
        assert before.locked
        await directory.set_locked("peter", False)
        after = await directory.person("peter")  # what a skill verifies against
        assert after is not None
        assert not after.locked
        assert calls["person"] == 2
    await directory.person("peter")
    assert calls["person"] == 3  # the block ended: nothing is remembered any more


async def test_a_change_to_a_device_forgets_what_was_read(
    world: SandboxWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(monkeypatch, world.devices, "device", "software", "devices_of")
    devices = RememberingDevices(world.devices)
    with remembered_reads():
        for _ in range(2):
            await devices.software("postman")
            await devices.devices_of("peter")
            await devices.device("NB-4103")
        assert calls == {"software": 1, "devices_of": 1, "device": 1}
        await devices.install("NB-4103", "postman")
        laptop = await devices.device("NB-4103")
        assert laptop is not None
        assert "postman" in laptop.installed
        assert calls["device"] == 2


async def test_taking_another_conversation_forgets_and_keeps_remembering(
    world: SandboxWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(monkeypatch, world.directory, "person")
    directory = RememberingDirectory(world.directory)
    with remembered_reads():
        await directory.person("peter")
        with remembered_reads():  # whatever changed while waiting for that lock is seen
            await directory.person("peter")
        await directory.person("peter")
    assert calls["person"] == 2


async def test_a_lookup_that_raced_a_change_is_not_remembered(
    world: SandboxWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter[str] = Counter()
    read, release = asyncio.Event(), asyncio.Event()
    original = world.directory.person

    async def slow_person(username: str) -> Person | None:
        calls["person"] += 1
        found = await original(username)
        read.set()
        await release.wait()  # the answer is on its way while the desk changes the person
        return found

    monkeypatch.setattr(world.directory, "person", slow_person)
    directory = RememberingDirectory(world.directory)
    with remembered_reads():
        reading = asyncio.create_task(directory.person("peter"))
        await read.wait()
        await directory.set_locked("peter", False)
        release.set()
        stale = await reading
        assert stale is not None
        assert stale.locked
        fresh = await directory.person("peter")
        assert fresh is not None
        assert not fresh.locked
    assert calls["person"] == 2


async def test_holding_a_conversation_remembers_lookups(
    store: Store, world: SandboxWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(monkeypatch, world.directory, "person")
    directory = RememberingDirectory(world.directory)
    async with ConversationLocks(store).hold("dm:peter"):
        await directory.person("peter")
        await directory.person("peter")
    assert calls["person"] == 1
