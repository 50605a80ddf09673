"""Start-up: the port answers before the desk is warm, and `/healthz` says "starting" until
the desk can answer and "ok" after."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientConnectorError, ClientSession, web

from bot.app import Listener, serve
from bot.settings import Settings
from bot.wiring import WiredDesk

GLOBEX = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "orgs" / "globex.yaml"


async def _get(http: ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


async def test_the_listener_answers_starting_until_it_is_handed_the_desk() -> None:
    listener = Listener("127.0.0.1", 0)
    await listener.open()
    app = web.Application()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    try:
        async with ClientSession() as http:
            for path in ("/healthz", "/", "/web/api/people"):
                assert await _get(http, listener.url + path) == (503, {"status": "starting"})
            await listener.serve(app)
            assert await _get(http, listener.url + "/healthz") == (200, {"status": "ok"})
    finally:
        await listener.close()
    async with ClientSession() as http:
        with pytest.raises(ClientConnectorError):
            await _get(http, listener.url + "/healthz")


async def test_healthz_says_starting_until_the_desk_can_answer(
    redis_url: str, redis: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.app.configure_logging", lambda *args, **kwargs: None)
    warming, warm, served = asyncio.Event(), asyncio.Event(), asyncio.Event()
    listeners: list[Listener] = []
    warm_up, open_, hand_over = WiredDesk.warm_up, Listener.open, Listener.serve

    async def held_warm_up(self: WiredDesk) -> None:
        warming.set()
        await warm.wait()
        await warm_up(self)

    async def recorded_open(self: Listener) -> None:
        listeners.append(self)
        await open_(self)

    async def told_serve(self: Listener, app: web.Application) -> None:
        await hand_over(self, app)
        served.set()

    monkeypatch.setattr(WiredDesk, "warm_up", held_warm_up)
    monkeypatch.setattr(Listener, "open", recorded_open)
    monkeypatch.setattr(Listener, "serve", told_serve)
    settings = Settings(
        _env_file=None, redis_url=redis_url, port=0, namespace="startup", cache_dir=tmp_path
    )
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, org_file=GLOBEX, stop=stop))
    try:
        async with ClientSession() as http, asyncio.timeout(60):
            await warming.wait()
            url = listeners[0].url
            assert await _get(http, f"{url}/healthz") == (503, {"status": "starting"})
            assert (await _get(http, f"{url}/"))[0] == 503  # the web chat waits too
            warm.set()
            await served.wait()
            assert await _get(http, f"{url}/healthz") == (200, {"status": "ok", "redis": "ok"})
            status, people = await _get(http, f"{url}/web/api/people")
            assert status == 200
            assert people
    finally:
        stop.set()
        await running
