"""Sustained DMs from distinct people to one `itdesk serve` in Slack HTTP mode.

A 5,000-person org (`bench.bigorg`), a local Slack-compatible Web API (the fake of
tests/fakes/slack_api.py, on 127.0.0.1), and `itdesk serve --workers N` as a subprocess on
an embedded redis-server. Distinct people DM a mix of "I'm locked out", "how do I set up the
VPN" and "install zoom" at a fixed rate, signed the way Slack signs them. Prints, per run:
events sent and acknowledged, DMs answered, lost (no reply), doubled (more replies than the
same message gets on its own), handled per second, and first-reply p50/p99.

    python -m bench.slack_load --rate 20 --seconds 30 --workers 1 --workers 2
    python -m bench.slack_load --storm --rate 83.4 --seconds 60 --drain 600   # 5,000 in 60 s
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.slack_api import FakeSlack, SlackUserRecord  # noqa: E402

from bench.bigorg import big_org_document  # noqa: E402

SECRET = "bench-signing-secret"
ONCALL = "C0ONCALL"
MIX = ("I'm locked out of my account", "how do I set up the VPN on my laptop?", "install zoom")
STORM = ("the VPN is down, I can't connect to anything",)


class TimedSlack(FakeSlack):
    """The fake Web API, noting when the first reply reached each channel."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.first_reply: dict[str, float] = {}
        self.replies: dict[str, int] = {}
        self.replied = asyncio.Condition()

    async def _chat_postMessage(  # noqa: N802
        self, args: dict[str, Any], request: web.Request
    ) -> dict[str, Any]:
        answer = await super()._chat_postMessage(args, request)
        channel = str(args.get("channel", ""))
        if answer.get("ok") and not args.get("thread_ts"):
            self.first_reply.setdefault(channel, time.monotonic())
            self.replies[channel] = self.replies.get(channel, 0) + 1
            async with self.replied:
                self.replied.notify_all()
        return answer

    async def wait_for_replies(self, channels: list[str], seconds: float) -> None:
        """Until every one of `channels` has had a reply, or `seconds` have passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds), self.replied:
                await self.replied.wait_for(lambda: all(c in self.first_reply for c in channels))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    base = f"v0:{ts}:{body}".encode()
    signature = "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature}  # fmt: skip


_seq = itertools.count(1)


def _event(user: str, text: str) -> str:
    n = next(_seq)
    ts = f"1772440000.{n:06d}"
    event = {"type": "message", "channel": "D" + user[1:], "channel_type": "im", "user": user,
             "text": text, "ts": ts, "event_ts": ts}  # fmt: skip
    return json.dumps({"token": "t", "team_id": "T0GLOBEX", "api_app_id": "A0ITDESK",
                       "type": "event_callback", "event_id": f"EvB{n:09d}",
                       "event_time": int(time.time()), "event": event})  # fmt: skip


async def _serve(
    org_file: Path, data: Path, fake: FakeSlack, port: int, workers: int
) -> asyncio.subprocess.Process:
    env = {**os.environ, "ITDESK_ORG_FILE": str(org_file), "ITDESK_DATA_DIR": str(data),
           "ITDESK_PORT": str(port), "ITDESK_SLACK_BOT_TOKEN": fake.bot_token,
           "ITDESK_SLACK_SIGNING_SECRET": SECRET, "ITDESK_SLACK_API_URL": fake.api_url,
           "ITDESK_SLACK_ONCALL_CHANNEL": ONCALL, "ITDESK_LOG_LEVEL": "WARNING"}  # fmt: skip
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", "--workers", str(workers), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def _healthy(http: aiohttp.ClientSession, url: str, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url + "/healthz") as resp:
                if resp.status == 200:
                    return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise SystemExit(f"itdesk serve was not healthy within {limit:.0f} s")


async def run(
    people: int, rate: float, seconds: float, workers: int, drain: float, storm: bool
) -> None:
    doc = big_org_document(people)
    names = [u for u in doc["users"] if u.startswith("u")]
    users = [SlackUserRecord("U" + u.upper(), doc["users"][u]["email"], doc["users"][u]["name"])
             for u in doc["users"]]  # fmt: skip
    channels = {ONCALL: True, **{"D" + u.id[1:]: True for u in users}}
    with tempfile.TemporaryDirectory() as tmp:
        org_file = Path(tmp) / "org.yaml"
        org_file.write_text(yaml.safe_dump(doc, sort_keys=False))
        async with TimedSlack(users=users, channels=channels) as fake:
            port = _free_port()
            serve = await _serve(org_file, Path(tmp) / "var", fake, port, workers)
            url = f"http://127.0.0.1:{port}"
            try:
                async with aiohttp.ClientSession() as http:
                    startup = await _healthy(http, url, 600)
                    await _load(http, url, fake, names, rate, seconds, drain, workers, startup,
                                STORM if storm else MIX)  # fmt: skip
            finally:
                serve.terminate()
                await serve.wait()


async def _load(
    http: aiohttp.ClientSession, url: str, fake: TimedSlack, names: list[str], rate: float,
    seconds: float, drain: float, workers: int, startup: float, mix: tuple[str, ...],
) -> None:  # fmt: skip
    # what each message gets on its own, from people outside the run
    for i, text in enumerate(MIX):
        body = _event("U" + names[-1 - i].upper(), text)
        async with http.post(url + "/slack/events", data=body, headers=_signed(body)) as resp:
            await resp.read()
    alone = {text: "D" + names[-1 - i].upper() for i, text in enumerate(MIX)}
    await fake.wait_for_replies(list(alone.values()), 60)
    await asyncio.sleep(1.0)  # anything a message gets after its first reply
    expected = {text: fake.replies.get(channel, 0) for text, channel in alone.items()}
    expected[STORM[0]] = 2  # an early reporter: the runbook, then "IT knows" when it opens
    threads_before = len(fake.in_channel(ONCALL))
    total = min(int(rate * seconds), len(names) - 3)  # each person writes once
    sent: dict[str, tuple[float, str]] = {}
    acked = refused = 0

    async def one(n: int) -> None:
        nonlocal acked, refused
        who = names[n % (len(names) - 3)]
        user, text = "U" + who.upper(), mix[n % len(mix)]
        body = _event(user, text)
        sent["D" + who.upper()] = (time.monotonic(), text)
        try:
            async with http.post(url + "/slack/events", data=body, headers=_signed(body)) as r:
                await r.read()
                acked += r.status == 200
                refused += r.status != 200
        except aiohttp.ClientError:
            refused += 1

    started = time.monotonic()
    tasks = []
    for n in range(total):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    sending = time.monotonic() - started
    await fake.wait_for_replies(list(sent), drain)
    await asyncio.sleep(1.0)  # late doubles
    waits = sorted(fake.first_reply[c] - t for c, (t, _) in sent.items() if c in fake.first_reply)
    answered = len(waits)
    lost = len(sent) - answered
    doubled = sum(1 for c, (_, text) in sent.items() if fake.replies.get(c, 0) > expected[text])
    last = max((fake.first_reply[c] for c in sent if c in fake.first_reply), default=started)
    p50 = statistics.median(waits) if waits else float("nan")
    p99 = waits[min(len(waits) - 1, int(0.99 * len(waits)))] if waits else float("nan")
    print(f"workers {workers}  rate {rate:g}/s for {seconds:g} s  (start-up {startup:.1f} s)")
    print(f"  sent {len(sent)}  acknowledged {acked}  refused {refused}"
          f"  (sending took {sending:.1f} s)")  # fmt: skip
    print(f"  answered {answered}  lost {lost}  doubled {doubled}"
          f"  handled {answered / max(last - started, 1e-9):.1f}/s")  # fmt: skip
    print(f"  first reply p50 {p50:.2f} s  p99 {p99:.2f} s"
          f"  (drained {max(last - started - sending, 0):.1f} s after the last send)")  # fmt: skip
    if mix == STORM:
        threads = fake.in_channel(ONCALL)[threads_before:]
        outages = sum(1 for m in threads if m.text.startswith("Outage"))
        print(f"  incidents opened {outages}  other escalations {len(threads) - outages}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--rate", type=float, action="append")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, action="append")
    parser.add_argument("--drain", type=float, default=120)
    parser.add_argument("--storm", action="store_true", help='everyone writes "the VPN is down"')
    args = parser.parse_args()
    for workers in args.workers or [1]:
        for rate in args.rate or [20.0]:
            asyncio.run(run(args.people, rate, args.seconds, workers, args.drain, args.storm))


if __name__ == "__main__":
    main()
