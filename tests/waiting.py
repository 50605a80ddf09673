"""Waiting in tests for work that runs elsewhere (a worker, another process): look again
every 20 ms until a condition holds, failing with its name after a bound."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from tenacity import AsyncRetrying, RetryError, retry_if_result, stop_after_delay, wait_fixed


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    """Wait for `check` to hold, looking every 20 ms."""
    looking = AsyncRetrying(
        wait=wait_fixed(0.02),
        stop=stop_after_delay(seconds),
        retry=retry_if_result(lambda ok: not ok),
    )

    async def holds() -> bool:  # a coroutine function, which tenacity awaits
        return await check()

    try:
        await looking(holds)
    except RetryError:
        pytest.fail(f"{check.__name__} did not hold within {seconds} s")
