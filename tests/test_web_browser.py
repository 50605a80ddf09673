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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import test_utils, web

from adapters.chat.web import WebChat
from adapters.chat.web_sandbox import SandboxPanel
from bot import texts
from bot.clock import ManualClock
from bot.models import Address, Button, Card, CardField, Reply, Send
from bot.org import load_org
from bot.store import Store
from bot.wiring import WiredDesk, sandbox_desk
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


def shows(selector: str, text: str) -> str:
    """A JavaScript condition: some element matching `selector` contains `text`."""
    return (f"[...document.querySelectorAll({json.dumps(selector)})]"
            f".some(e => e.textContent.includes({json.dumps(text)}))")  # fmt: skip


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
        self.dialogs: list[str] = []
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
                self.dialogs.append(params["message"])
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
            problem = out["exceptionDetails"].get("exception", {}).get("description")
            raise AssertionError(f"{problem}\npage errors: {self.errors}")
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


@dataclass
class Demo:
    """The page open in Chromium over a real desk on a sandbox world."""

    tab: Tab
    desk: WiredDesk
    world: SandboxWorld
    chat: WebChat


@pytest.fixture
async def demo(store: Store, tmp_path: Path) -> AsyncIterator[Demo]:
    org = load_org(GLOBEX)
    assert org.now is not None
    clock = ManualClock(org.now)
    world = await SandboxWorld.create(store.child("world"), org, clock)
    desk = sandbox_desk(store, world, clock)
    chat = WebChat(
        desk,
        desk.directory,
        SandboxPanel(world, clock),
        store.child("web"),
        clock=clock,
        oncall_channel=desk.oncall_channel,
    )
    app = web.Application()
    chat.mount(app)
    server = test_utils.TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with chromium(tmp_path / "profile") as tab:
            await tab.send("Page.navigate", url=str(server.make_url("/")))
            people = len(org.users)
            await tab.until(f"document.querySelectorAll('#people .person').length === {people}")
            yield Demo(tab, desk, world, chat)
            # no script errors, no blocked resources, nothing loaded from elsewhere
            assert tab.errors == []
            external = await tab.js(
                "performance.getEntriesByType('resource')"
                ".map(e => e.name).filter(n => !n.startsWith(location.origin))"
            )
            assert external == []
    finally:
        await server.close()


async def pick(tab: Tab, username: str) -> None:
    await tab.click(f'#people [data-username="{username}"]')
    await tab.until(f"location.hash === '#{username}' && "
                    "document.querySelector('#connection').textContent === 'Live'")  # fmt: skip


async def say(tab: Tab, text: str) -> None:
    """Type into the composer and press Enter, as a person would."""
    await tab.until("!document.querySelector('#composer-input').disabled")
    await tab.type("#composer-input", text)
    await tab.press_enter()
    await tab.until(shows(".msg-own .bubble", text))
    assert await tab.js("document.querySelector('#composer-input').value") == ""


async def test_unlock_with_a_push_then_a_human_claims_and_replies(demo: Demo) -> None:
    tab = demo.tab
    assert await tab.js("document.querySelector('#org-name').textContent") == "Globex"

    # alice is locked out: the desk sends a push to her phone, she approves it there
    await pick(tab, "alice")
    assert await tab.js("document.querySelector('#tab-oncall').hidden") is True
    await say(tab, "I'm locked out of my account")
    await tab.until(shows(".msg-desk .bubble", "phone"))
    await tab.click(".kind-push .btn-primary")
    await tab.until("document.querySelector('.kind-push .status-approved')")
    assert await tab.js("document.querySelectorAll('.kind-push button').length") == 0
    await tab.until("document.querySelector('.msg-desk .card-status')")
    person = await demo.world.directory.person("alice")
    assert person is not None
    assert not person.locked

    # a request the desk hands to a human: the reply names the ticket
    await say(tab, "The screen of my laptop is cracked")
    await tab.until(shows(".msg-desk .bubble", "ticket"))
    (ticket,) = await demo.world.tickets.of_requester("alice")
    assert await tab.js(shows(".msg-desk .bubble", ticket.id)) is True

    # dave, on call: the escalation thread, claimed, and a reply in it
    await pick(tab, "dave")
    await tab.click("#tab-oncall")
    await tab.until("document.querySelector('#oncall-count').textContent === '1'")
    await tab.click(".thread .card-escalation .btn-primary")
    await tab.until("document.querySelector('.thread .card-context')?.textContent"
                    " === 'Claimed by Dave Kowalski'")  # fmt: skip
    # the card is redrawn as its update arrives: its button turns from Claim to Resolve
    await tab.until("document.querySelector('.thread .card .btn')?.textContent === 'Resolve'")
    await tab.type(".thread-input", "I have a spare screen, on my way")
    await tab.click(".thread-form button")
    await tab.until(shows(".thread-replies .bubble", "spare screen"))
    await tab.screenshot(SCREENSHOT_ONCALL)

    # back to alice: the technician's words reached her
    await pick(tab, "alice")
    await tab.until(shows(".msg-desk .bubble", "Dave (IT): I have a spare screen"))
    png = await tab.screenshot(SCREENSHOT)
    assert png.startswith(b"\x89PNG")


async def test_a_button_with_a_confirmation_asks_first(demo: Demo) -> None:
    tab = demo.tab
    card = Card(kind="status", title="Added to Finance Reports", text="Until **31 May**.",
                fields=(CardField(label="Group", value="Finance Reports (read)"),),
                buttons=(Button(label="Undo", action="undo", ref="no-such-ref", style="danger",
                                confirm="Remove your access again?"),))  # fmt: skip
    await demo.chat.deliver([Send(to=Address.dm("bob"), reply=Reply(id="M-1", card=card))])
    await pick(tab, "bob")
    await tab.until("document.querySelector('.card-status strong')?.textContent === '31 May'")
    await tab.click(".card-status .btn-danger")
    # the dialog was accepted, so the click reached the desk, which knows no such button
    await tab.until(shows(".msg-desk .bubble", texts.say("button.unknown")))
    assert tab.dialogs == ["Remove your access again?"]
