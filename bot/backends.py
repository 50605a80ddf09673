"""The systems the desk acts through, as one bundle of ports: the sandbox's today, real
directories, device management and ticket systems as they come (each chosen by a setting)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ports import Checks, Devices, Directory, LockoutFeed, Outbox, Tickets


@dataclass(frozen=True)
class Backends:
    directory: Directory
    devices: Devices
    tickets: Tickets
    outbox: Outbox
    checks: Checks
    # where new lockouts are read, for the desk to reach out first (None: nowhere)
    lockouts: LockoutFeed | None = None
