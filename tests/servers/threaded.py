"""An aiohttp application served on 127.0.0.1 at an ephemeral port from its own event loop in
a background thread, so a fake outlives any one test's loop and stops from synchronous code
(a fixture's finalizer). Its state is changed only on its loop: `run` hands a function over
and waits for its result."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
START_TIMEOUT = 10.0


class ThreadedApp:
    """Serves `app` once `start`ed; `url` is its base URL."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def start(self) -> None:
        self._thread.start()
        self.url = self._wait(self._serve())

    def stop(self) -> None:
        if self._runner is not None:
            self._wait(self._runner.cleanup())
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=START_TIMEOUT)
        self._loop.close()

    def run(self, change: Callable[[], T]) -> T:
        """Run `change` on the server's loop (where its handlers run) and return its result."""

        async def inside() -> T:
            return change()

        return self._wait(inside())

    async def _serve(self) -> str:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def _wait(self, work: Coroutine[Any, Any, T]) -> T:
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result(timeout=START_TIMEOUT)
