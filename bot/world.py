"""The sandbox world: every port the desk needs (directory, devices, tickets, checks and the
outbox that is everyone's phone and mailbox) served from Redis and seeded from an org file.
The demo keeps its world across restarts; each scenario gets a fresh one in its own
namespace."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from redis.exceptions import WatchError

from adapters.capabilities import Capabilities
from adapters.checks.sandbox import SandboxChecks
from adapters.devices.sandbox import SandboxDevices
from adapters.directory.sandbox import SandboxDirectory
from adapters.notify.sandbox import SandboxOutbox
from adapters.tickets.builtin import BuiltinTickets
from bot.backends import Backends
from bot.clock import Clock
from bot.org import Org
from bot.ports import (
    CAPABILITIES,
    CHECK_CAPABILITIES,
    DEVICE_CAPABILITIES,
    DIRECTORY_CAPABILITIES,
    ChangeLog,
)
from bot.store import Store

# the child namespaces the world's adapters write under (what `reset` clears)
_PARTS = ("directory", "devices", "tickets", "outbox", "checks")
# The version of the lookup indexes (role, manager, device owner) a world carries: a world
# kept from an older version is indexed once when the desk starts on it.
INDEX_VERSION = "1"


class SandboxWorld:
    """A sandbox organisation served through the desk's ports. Build it with `create`.

    `seeded` says whether this call wrote the org into Redis (False: the state was already
    there and was kept); `org_changed` whether that kept state came from a different version
    of the org file (the demo after editing it: start with `reset=True` to pick it up).

    `unsupported` names capabilities (`bot.ports.CAPABILITIES`) the world's adapters act as
    if they lacked, to try the desk against a backend without them."""

    def __init__(
        self, store: Store, org: Org, clock: Clock, *, unsupported: Iterable[str] = ()
    ) -> None:
        lacking = Capabilities(unsupported, CAPABILITIES, "world").lacking
        self.store = store
        self.org = org
        self.clock = clock
        self.knowledge: dict[str, str] = dict(org.knowledge)
        self.outbox = SandboxOutbox(store, clock)
        self.directory = SandboxDirectory(
            store,
            clock,
            self.outbox,
            domain=org.domain,
            unsupported=lacking & DIRECTORY_CAPABILITIES,
        )
        self.devices = SandboxDevices(store, clock, unsupported=lacking & DEVICE_CAPABILITIES)
        self.checks = SandboxChecks(
            store, clock, self.directory, self.outbox, unsupported=lacking & CHECK_CAPABILITIES
        )
        self.tickets = BuiltinTickets(store, clock)
        self.seeded = False
        self.org_changed = False

    @classmethod
    async def create(
        cls,
        store: Store,
        org: Org,
        clock: Clock,
        *,
        reset: bool = False,
        unsupported: Iterable[str] = (),
    ) -> SandboxWorld:
        """The world in `store`'s namespace, seeded from `org` unless it already holds one
        (then its current state is kept, unless `reset`)."""
        world = cls(store, org, clock, unsupported=unsupported)
        if reset:
            for part in _PARTS:
                await store.child(part).drop()
            await store.redis.delete(world.seed_marker, world.index_marker)
        world.seeded = await world._seed()
        if not world.seeded:
            await world._index()
        marker = json.loads(await store.redis.get(world.seed_marker) or "{}")
        world.org_changed = marker.get("fingerprint") != _fingerprint(org)
        return world

    def backends(self) -> Backends:
        """The world's ports, as the desk is built over them."""
        return Backends(self.directory, self.devices, self.tickets, self.outbox, self.checks,
                        lockouts=self.directory.lockouts)  # fmt: skip

    def change_logs(self) -> list[ChangeLog]:
        """What the world's directory and device management changed (for reconciling)."""
        return [self.directory, self.devices]

    @property
    def seed_marker(self) -> str:
        """The key that says this namespace holds a seeded world (and from which org)."""
        return self.store.key("sandbox", "seeded")

    @property
    def index_marker(self) -> str:
        """The key that says which version of the lookup indexes the world carries."""
        return self.store.key("sandbox", "indexes")

    async def _index(self) -> None:
        """Bring a kept world's lookup indexes up to date (adding entries is idempotent, so
        several workers doing it at once agree)."""
        if await self.store.redis.get(self.index_marker) == INDEX_VERSION:
            return
        people, devices = await self.directory.people(), await self.devices.devices()
        async with self.store.redis.pipeline(transaction=True) as pipe:
            self.directory.stage_indexes(pipe, *people)
            self.devices.stage_indexes(pipe, *devices)
            pipe.set(self.index_marker, INDEX_VERSION)
            await pipe.execute()

    async def _seed(self) -> bool:
        """Write the org in one transaction, unless another process already has (several
        desk workers may start at once; exactly one of them seeds)."""
        marker = json.dumps(
            {"org": self.org.name, "fingerprint": _fingerprint(self.org),
             "seeded_at": self.clock.now().isoformat()}
        )  # fmt: skip
        async with self.store.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(self.seed_marker)
                if await pipe.exists(self.seed_marker):
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                self.directory.stage_seed(pipe, self.org)
                self.devices.stage_seed(pipe, self.org)
                pipe.set(self.seed_marker, marker)
                pipe.set(self.index_marker, INDEX_VERSION)
                await pipe.execute()
            except WatchError:
                return False
        return True

    async def snapshot(self) -> dict[str, Any]:
        """The current state as an org document (it loads with `parse_org`), for comparing
        with a scenario's `expect.org` and for showing an admin what changed."""
        users: dict[str, Any] = {}
        for person in await self.directory.people():
            contact = await self.directory.contact(person.username)
            entry = person.model_dump(mode="json", exclude={"username"})
            if contact is not None:
                entry |= contact.model_dump(exclude_none=True)
            users[person.username] = entry
        return {
            "name": self.org.name,
            "domain": self.org.domain,
            "now": self.clock.now().isoformat(),
            "users": users,
            "groups": {
                group.id: group.model_dump(mode="json", exclude={"id"})
                for group in await self.directory.groups()
            },
            "devices": {
                device.id: device.model_dump(mode="json", exclude={"id"})
                for device in await self.devices.devices()
            },
            "software": {
                item.id: item.model_dump(mode="json", exclude={"id"})
                for item in await self.devices.catalogue()
            },
            "knowledge": dict(self.knowledge),
        }


def sandbox_change_logs(store: Store, clock: Clock) -> list[ChangeLog]:
    """The change logs of the sandbox world a desk over `store` keeps (under its `world`
    namespace, as `bot.app` builds it), read without its org file."""
    world = store.child("world")
    return [SandboxDirectory.change_log(world, clock), SandboxDevices.change_log(world, clock)]


def _fingerprint(org: Org) -> str:
    return hashlib.sha256(org.model_dump_json().encode()).hexdigest()[:16]
