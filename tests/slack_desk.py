"""The desk as a company runs it, in Slack: `itdesk serve` started by a test over whatever
backends its settings name, the fake Slack workspace in front, a real SMTP server for the
codes and links, and what a person does in Slack (says, reads the answer, presses)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import test_utils, web
from fakes.slack_api import APP_ID, TEAM_ID, FakeSlack, Message, SlackUserRecord
from servers.smtp import SmtpTestServer
from test_slack import SECRET, dm_event, envelope, signed_post
from waiting import until

from bot.app import Runtime
from bot.settings import load_settings


@dataclass
class SlackDesk:
    """The desk serving a company in Slack."""

    http: test_utils.TestClient[web.Request, web.Application]
    slack: FakeSlack
    mail: SmtpTestServer
    runtime: Runtime

    async def says(self, who: str, text: str) -> None:
        resp = await signed_post(self.http, envelope(dm_event(who, text)), "application/json")
        assert resp.status == 200, await resp.text()

    async def answer(self, who: str, count: int) -> Message:
        """`who`'s DM once it holds `count` messages from the desk: the newest."""
        async with asyncio.timeout(30):
            return (await self.slack.wait_for_messages(f"D{who.upper()}", count))[-1]

    def dm(self, who: str) -> list[Message]:
        return list(self.slack.in_channel(f"D{who.upper()}"))

    async def told(self, who: str, text: str) -> Message:
        """Wait until the desk has said `text` to `who` (in a message, or a card's words):
        that message."""

        async def said() -> bool:
            return any(text in m.text or text in m.words() for m in self.dm(who))

        await until(said)
        return next(m for m in self.dm(who) if text in m.text or text in m.words())

    async def mail_to(self, address: str, count: int) -> str:
        """The `count`-th mail to `address`, once it came (later ones may have come too)."""

        async def delivered() -> bool:
            return len(self.mail.boxes.to(address)) >= count

        await until(delivered)
        return self.mail.boxes.to(address)[count - 1].body

    async def presses(self, who: str, message: Message, label: str) -> None:
        button = message.button(label)
        payload = {
            "type": "block_actions", "api_app_id": APP_ID,
            "team": {"id": TEAM_ID}, "user": {"id": f"U{who.upper()}", "team_id": TEAM_ID},
            "trigger_id": f"{time.time()}.trigger",
            "container": {"type": "message", "message_ts": message.ts,
                          "channel_id": message.channel},
            "channel": {"id": message.channel},
            "message": {"type": "message", "ts": message.ts, "text": message.text,
                        "blocks": message.blocks},
            "actions": [{"type": "button", "action_id": button["action_id"],
                         "value": button["value"], "action_ts": f"{time.time():.6f}"}],
        }  # fmt: skip
        body = urlencode({"payload": json.dumps(payload)})
        resp = await signed_post(self.http, body, "application/x-www-form-urlencoded")
        assert resp.status == 200, await resp.text()


def workspace(people: Iterable[tuple[str, str, str]]) -> FakeSlack:
    """A Slack workspace of (username, e-mail, name), each with a DM open to the desk."""
    listed = list(people)
    users = [SlackUserRecord(f"U{u.upper()}", email, name) for u, email, name in listed]
    return FakeSlack(users=users, channels={f"D{u.upper()}": True for u, _, _ in listed})


@asynccontextmanager
async def serving(
    slack: FakeSlack, mail: SmtpTestServer, redis_url: str, data: Path, **settings: Any
) -> AsyncIterator[SlackDesk]:
    """`itdesk serve` in `slack` with the backends `settings` name (and the mail server)."""
    loaded = load_settings(
        smtp_url=mail.url, smtp_from="IT desk <itdesk@company.test>", redis_url=redis_url,
        web_chat=False, data_dir=data / "var", slack_bot_token=slack.bot_token,
        slack_signing_secret=SECRET, slack_api_url=slack.api_url, _env_file=None, **settings,
    )  # fmt: skip
    runtime = await Runtime.start(loaded)
    try:
        async with test_utils.TestClient(test_utils.TestServer(runtime.app)) as http:
            yield SlackDesk(http, slack, mail, runtime)
    finally:
        await runtime.close()
