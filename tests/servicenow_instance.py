"""A fake ServiceNow instance with a few people and groups, and the desk's tickets over it,
for the ServiceNow tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from servers.servicenow import FakeServiceNow

from adapters.servicenow.tickets import ServiceNowTickets
from bot.clock import ManualClock
from bot.settings_tickets import TicketSettings

START = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
PEOPLE = [("ana", "ana@example.test", "Ana Alves"), ("ben", "ben@example.test", "Ben Brown"),
          ("tom", "tom@example.test", "Tom Tech")]  # fmt: skip
GROUPS = {"access": "Access Management", "security": "Security Operations"}


class Sleeps:
    """The injected sleep: records each wait and moves the clock by it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@contextmanager
def instance(clock: ManualClock, **options: Any) -> Iterator[FakeServiceNow]:
    fake = FakeServiceNow(clock.now, **options).start()
    try:
        fake.seed(PEOPLE, GROUPS)
        fake.add_user("pat", "pat@example.test", "Pat Portal")
        yield fake
    finally:
        fake.stop()


def desk_tickets(
    fake: FakeServiceNow, clock: ManualClock, sleeps: Sleeps, *, oauth: bool = False,
    directory: Any = None, **overrides: Any,
) -> ServiceNowTickets:  # fmt: skip
    settings = TicketSettings.model_validate({**fake.settings(oauth=oauth, groups=GROUPS),
                                              **overrides})  # fmt: skip
    return ServiceNowTickets.from_settings(settings, directory=directory, clock=clock,
                                           sleep=sleeps)  # fmt: skip
