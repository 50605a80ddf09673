"""The org's names for the understanding (people, groups, devices, software), read from the
ports, not from an org file: cached in Redis (`bot.state.catalog`) so that every desk process
shares one copy, looked at again at most once a minute, and read from the ports afresh by a
scheduled refresh."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import structlog

from bot.clock import Clock
from bot.models import Catalog
from bot.ports import Devices, Directory
from bot.scheduler import Job, Scheduler
from bot.state.catalog import CatalogCache

log = structlog.get_logger("itdesk.catalogue")
REFRESH_EVERY = timedelta(minutes=15)
JOB = "catalogue.refresh"


class CatalogueSource:
    def __init__(
        self,
        directory: Directory,
        devices: Devices,
        cache: CatalogCache,
        *,
        check_every: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._devices = devices
        self._cache = cache
        self._check_every = check_every
        self._monotonic = monotonic
        self._catalog: Catalog | None = None
        self._version: str | None = None
        self._checked = 0.0

    async def current(self) -> Catalog:
        """The catalogue: this process's copy while it is fresh, else the shared cache's,
        else (nothing cached yet) read from the ports."""
        now = self._monotonic()
        if self._catalog is not None and now - self._checked < self._check_every:
            return self._catalog
        self._checked = now
        version = await self._cache.version()
        if self._catalog is not None and version == self._version:
            return self._catalog
        cached = await self._cache.get() if version is not None else None
        if cached is None:
            return await self.refresh()
        self._version, self._catalog = cached
        return self._catalog

    async def refresh(self) -> Catalog:
        """Read the names from the ports and share them."""
        catalog = Catalog.build(
            people=await self._directory.people(),
            groups=await self._directory.groups(),
            devices=await self._devices.devices(),
            software=await self._devices.catalogue(),
        )
        self._version = await self._cache.put(catalog)
        self._catalog, self._checked = catalog, self._monotonic()
        log.info("catalogue.refreshed", people=len(catalog.people), groups=len(catalog.groups))
        return catalog


class CatalogueRefresh:
    """The scheduled refresh: every REFRESH_EVERY, one worker reads the ports again."""

    def __init__(self, source: CatalogueSource, scheduler: Scheduler, clock: Clock) -> None:
        self._source = source
        self._scheduler = scheduler
        self._clock = clock

    def register_jobs(self) -> None:
        self._scheduler.register(JOB, self._on_refresh)

    async def start(self) -> None:
        """At start-up: load the names (from the cache, else the ports) and make sure a
        refresh is scheduled (scheduling it again replaces it)."""
        await self._source.current()
        await self._schedule()

    async def _schedule(self) -> None:
        await self._scheduler.schedule(JOB, self._clock.now() + REFRESH_EVERY, {}, job_id=JOB)

    async def _on_refresh(self, job: Job) -> None:
        await self._source.refresh()
        await self._schedule()
