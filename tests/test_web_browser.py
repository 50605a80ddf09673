"""The web chat's real page in headless Chromium, driven over the Chrome DevTools Protocol:
pick a person, send a message, see the desk's reply, answer a push on the phone, switch to
the on-call technician, claim the escalation and reply in its thread, and see the reply
reach the requester. Screenshots land in /tmp for a human to look at."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import test_utils, web

from adapters.chat.web import WebChat
from adapters.notify.sandbox import new_outbox_item
from bot.app import build_desk
from bot.cases import Case
from bot.clock import ManualClock
from bot.context import TurnContext
from bot.org import load_org
from bot.refs import ButtonRef
from bot.store import Store
from bot.world import SandboxWorld

CHROMIUM = Path("/usr/bin/chromium")
GLOBEX = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "orgs" / "globex.yaml"
SCREENSHOT = Path("/tmp/webchat.png")
SCREENSHOT_ONCALL = Path("/tmp/webchat-oncall.png")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--window-size=1440,900",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs headless Chromium at /usr/bin/chromium (Debian package `chromium`)",
)


class Tab:
    """Just enough of the Chrome DevTools Protocol for one page: commands, JavaScript, keys,
    screenshots, and a record of the page's errors. JavaScript dialogs are accepted."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._session: str | None = None
        self.errors: list[str] = []
        self._dialogs: set[asyncio.Task[dict[str, Any]]] = set()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self._ws:
            data = json.loads(msg.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
                continue
            method, params = data.get("method"), data.get("params", {})
            if method == "Runtime.exceptionThrown":
                self.errors.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                self.errors.append(params["entry"]["text"])
            elif method == "Page.javascriptDialogOpening":
                task = asyncio.create_task(self.send("Page.handleJavaScriptDialog", accept=True))
                self._dialogs.add(task)
                task.add_done_callback(self._dialogs.discard)
        for future in self._waiting.values():
            future.set_exception(ConnectionError("the browser went away"))

    async def send(self, method: str, *, browser: bool = False, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self._session is not None and not browser:
            message["sessionId"] = self._session
        future = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        await self._ws.send_str(json.dumps(message))
        reply = await future
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def open(self, width: int, height: int) -> None:
        target = await self.send("Target.createTarget", url="about:blank", browser=True)
        attached = await self.send("Target.attachToTarget", targetId=target["targetId"],
                                   flatten=True, browser=True)  # fmt: skip
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            await self.send(f"{domain}.enable")
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=False)  # fmt: skip

    async def js(self, expression: str) -> Any:
        """Evaluate in the page (awaiting a promise) and return the value."""
        out = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True,
                              returnByValue=True)  # fmt: skip
        if "exceptionDetails" in out:
            raise AssertionError(out["exceptionDetails"].get("exception", {}).get("description"))
        return out["result"].get("value")

    async def until(self, predicate: str, timeout_ms: int = 10_000) -> None:
        """Wait for a JavaScript condition, re-checked on every change to the DOM."""
        await self.js(f"""new Promise((resolve, reject) => {{
            const test = () => {{
                try {{ return !!({predicate}); }} catch (e) {{ return false; }}
            }};
            if (test()) return resolve(true);
            const timer = setTimeout(() => {{ observer.disconnect();
                reject(new Error({json.dumps("timed out waiting for: " + predicate)})); }},
                {timeout_ms});
            const observer = new MutationObserver(() => {{
                if (test()) {{ observer.disconnect(); clearTimeout(timer); resolve(true); }} }});
            observer.observe(document, {{subtree: true, childList: true, attributes: true,
                                         characterData: true}});
        }})""")

    async def click(self, selector: str) -> None:
        await self.until(f"document.querySelector({json.dumps(selector)})")
        await self.js(f"document.querySelector({json.dumps(selector)}).click()")

    async def type(self, selector: str, text: str) -> None:
        await self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.send("Input.insertText", text=text)

    async def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            text = "\r" if kind == "keyDown" else ""
            await self.send("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                            windowsVirtualKeyCode=13, text=text)  # fmt: skip

    async def screenshot(self, path: Path) -> bytes:
        shot = await self.send("Page.captureScreenshot", format="png")
        png = base64.b64decode(shot["data"])
        await asyncio.to_thread(path.write_bytes, png)
        return png


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Tab]:
    proc = await asyncio.create_subprocess_exec(
        str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            while line := (await proc.stderr.readline()).decode():
                if found := re.search(r"DevTools listening on (ws://\S+)", line):
                    break
            else:
                raise RuntimeError("Chromium exited before it opened DevTools")
        drain = asyncio.create_task(proc.stderr.read())  # keep its pipe from filling
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(found.group(1), max_msg_size=0) as ws,
        ):
            tab = Tab(ws)
            await tab.open(1440, 900)
            yield tab
        drain.cancel()
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def test_pick_send_claim_and_reply_in_a_real_browser(store: Store, tmp_path: Path) -> None:
    org = load_org(GLOBEX)
    assert org.now is not None
    clock = ManualClock(org.now)
    world = await SandboxWorld.create(store.child("world"), org, clock)
    desk = build_desk(store, world, clock)
    chat = WebChat(desk, world, store.child("web"))

    async def on_push(ctx: TurnContext, ref: ButtonRef, case: Case | None) -> None:
        ctx.say("Thanks, that was you. Carrying on.")

    desk.on_click("push.approve", on_push)
    token = await desk.refs.mint("push.approve", allowed=["alice"])
    await world.outbox.deliver(
        new_outbox_item(
            clock,
            to="alice",
            channel="sms",
            address="+44 •••• ••12",
            kind="code",
            text="Your Globex verification code. It expires in 10 minutes.",
            secret="482913",
        )
    )
    await world.outbox.deliver(new_outbox_item(
        clock, to="alice", channel="push", address="Alice's iPhone", kind="push",
        text="Is this you signing in to the IT desk?", ref=token, status="pending",
        ttl=timedelta(minutes=5)))  # fmt: skip

    app = web.Application()
    chat.mount(app)
    server = test_utils.TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with chromium(tmp_path / "profile") as tab:
            await tab.send("Page.navigate", url=str(server.make_url("/")))
            await tab.until("document.querySelectorAll('#people .person').length === 8")
            assert await tab.js("document.querySelector('#org-name').textContent") == "Globex"

            # alice: pick her, send with Enter, see her bubble and the desk's reply
            await tab.click('#people [data-username="alice"]')
            await tab.until("document.querySelector('#connection').textContent === 'Live'")
            await tab.until("!document.querySelector('#composer-input').disabled")
            await tab.type("#composer-input", "The printer on floor 3 jams on every page")
            await tab.press_enter()
            await tab.until("[...document.querySelectorAll('.msg-own .bubble')].some("
                            "b => b.textContent.includes('floor 3'))")  # fmt: skip
            await tab.until("[...document.querySelectorAll('.msg-desk .bubble')].some("
                            "b => b.textContent.includes('ticket'))")  # fmt: skip
            assert await tab.js("document.querySelector('#composer-input').value") == ""

            # her phone: the code is shown, and the push is approved from the phone
            await tab.until("document.querySelector('.notif-code')?.textContent === '482913'")
            await tab.click(".notif-push .btn-primary")
            await tab.until("document.querySelector('.notif-push .status-approved') || "
                            "[...document.querySelectorAll('.msg-desk .bubble')].some("
                            "b => b.textContent.includes('that was you'))")  # fmt: skip
            await tab.until("[...document.querySelectorAll('.msg-desk .bubble')].some("
                            "b => b.textContent.includes('that was you'))")  # fmt: skip

            # dave, on call: the escalation thread with its Claim button
            await tab.click('#people [data-username="dave"]')
            await tab.until("!document.querySelector('#tab-oncall').hidden")
            await tab.click("#tab-oncall")
            await tab.until("document.querySelector('#oncall-count').textContent === '1'")
            await tab.click(".thread .card-escalation .btn-primary")
            await tab.until("document.querySelector('.thread .card-context')?.textContent"
                            " === 'Claimed by Dave Kowalski'")  # fmt: skip
            assert await tab.js("document.querySelector('.thread .card .btn').textContent") == (
                "Resolve"
            )
            await tab.type(".thread-input", "On my way with a new fuser unit")
            await tab.click(".thread-form button")
            await tab.until("[...document.querySelectorAll('.thread-replies .bubble')].some("
                            "b => b.textContent.includes('fuser'))")  # fmt: skip
            await tab.screenshot(SCREENSHOT_ONCALL)

            # back to alice: the technician's words reached her
            await tab.click('#people [data-username="alice"]')
            await tab.until("[...document.querySelectorAll('.msg-desk .bubble')].some("
                            "b => b.textContent.includes('Dave (IT): On my way'))")  # fmt: skip
            png = await tab.screenshot(SCREENSHOT)
            assert png.startswith(b"\x89PNG")
            assert len(png) > 10_000

            # no script errors, no blocked resources, nothing loaded from outside
            assert tab.errors == []
            external = await tab.js(
                "performance.getEntriesByType('resource')"
                ".map(e => e.name).filter(n => !n.startsWith(location.origin))"
            )
            assert external == []
    finally:
        await server.close()
