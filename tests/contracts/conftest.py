"""The `backend` fixture: every contract test runs once per backend in `backends.BACKENDS`."""

from __future__ import annotations

import pytest
from backends import BACKENDS, Backend

from bot.store import Store


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, store: Store) -> Backend:
    return await BACKENDS[request.param](store, request)
