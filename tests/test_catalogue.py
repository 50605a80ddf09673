"""The understanding's names come from the ports, through a cache every desk process shares,
and a refresh picks up what changed in the directory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.catalogue import JOB, CatalogueRefresh, CatalogueSource
from bot.clock import ManualClock
from bot.models import Group
from bot.org import load_org
from bot.scheduler import Scheduler
from bot.state.catalog import CatalogCache
from bot.store import Store
from bot.world import SandboxWorld

ORG = load_org(Path(__file__).resolve().parent / "desk_scenarios" / "orgs" / "initech.yaml")


async def test_the_catalogue_is_read_from_the_ports_once_and_shared(store: Store) -> None:
    clock = ManualClock(ORG.now)  # type: ignore[arg-type]
    world = await SandboxWorld.create(store.child("world"), ORG, clock, reset=True)
    reads = []
    real = world.directory.people

    async def people() -> list:  # type: ignore[type-arg]
        reads.append(1)
        return await real()

    world.directory.people = people  # type: ignore[method-assign]
    now = [0.0]
    one = CatalogueSource(world.directory, world.devices, CatalogCache(store),
                          monotonic=lambda: now[0])  # fmt: skip
    two = CatalogueSource(world.directory, world.devices, CatalogCache(store),
                          monotonic=lambda: now[0])  # fmt: skip
    first = await one.current()
    assert {p.username for p in first.people} == {p.username for p in ORG.people()}
    assert {g.id for g in first.groups} == set(ORG.groups)
    assert await two.current() == first  # the second process reads the cache
    assert len(reads) == 1


async def test_a_refresh_picks_up_a_new_group_everywhere(store: Store) -> None:
    clock = ManualClock(ORG.now)  # type: ignore[arg-type]
    world = await SandboxWorld.create(store.child("world"), ORG, clock, reset=True)
    now = [0.0]
    source = CatalogueSource(world.directory, world.devices, CatalogCache(store),
                             monotonic=lambda: now[0])  # fmt: skip
    other = CatalogueSource(world.directory, world.devices, CatalogCache(store),
                            monotonic=lambda: now[0])  # fmt: skip
    await other.current()
    scheduler = Scheduler(store, clock)
    refresh = CatalogueRefresh(source, scheduler, clock)
    refresh.register_jobs()
    await refresh.start()
    assert [j.kind for j in await scheduler.pending()] == [JOB]
    group = Group(id="skunkworks", name="Skunkworks Projects", owner="mateo")
    await world.directory._groups.put(group.id, group)  # as an admin adds one upstream
    clock.advance(timedelta(hours=1))
    assert await scheduler.run_due() == 1
    assert "skunkworks" in {g.id for g in (await source.current()).groups}
    assert "skunkworks" not in {g.id for g in (await other.current()).groups}  # its minute
    now[0] = 61.0
    assert "skunkworks" in {g.id for g in (await other.current()).groups}
    assert [j.kind for j in await scheduler.pending()] == [JOB]  # the next refresh is due
