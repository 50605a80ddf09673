"""Reaching out first about lockouts, over the Initech sandbox on the test Redis: the poll and
its cursor, one message per lockout however many desks poll, whom policy leaves alone (never
a privileged account), the e-mail for someone the chat cannot reach, and the answers."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from auditing import AUDIT_KEY
from harness import ORG, Conversation

from adapters.chat.recording import Message, RecordingChat
from bot import texts
from bot.clock import ManualClock
from bot.knowledge import KnowledgeBase
from bot.models import Button
from bot.outbound import FanOut
from bot.outreach import POLL_ID
from bot.policy import PolicyEngine, PolicyError, default_policy_dir
from bot.ports import Lockout, LockoutPage
from bot.scheduler import advance
from bot.settings import load_settings
from bot.state.audit import AuditLog
from bot.store import Store
from bot.wiring import WiredDesk, build_desk
from bot.world import SandboxWorld


class Chat(RecordingChat):
    """A recording chat that reaches everyone but `unreachable` (never opened the app)."""

    def __init__(self, unreachable: Sequence[str] = ()) -> None:
        super().__init__()
        self.unreachable = set(unreachable)

    async def reaches(self, username: str) -> bool:
        return username not in self.unreachable


class Feed:
    """A lockout feed the test scripts: pages to hand out, failures to raise, cursors asked."""

    def __init__(self) -> None:
        self.pages: list[LockoutPage] = []
        self.failures = 0
        self.asked: list[str | None] = []

    async def lockouts_since(self, cursor: str | None) -> LockoutPage:
        self.asked.append(cursor)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the directory is not answering")
        return self.pages.pop(0) if self.pages else LockoutPage(cursor=cursor or "start")


async def desk_over(
    store: Store,
    world: SandboxWorld,
    chat: RecordingChat,
    *,
    feed: Feed | None = None,
    policies: Path | None = None,
) -> Conversation:
    backends = world.backends()
    if feed is not None:
        backends = dataclasses.replace(backends, lockouts=feed)
    wired = build_desk(
        store, backends, world.clock, knowledge=KnowledgeBase.load(world.knowledge),
        outbound=chat, audit=AuditLog(store, AUDIT_KEY),
        policy=PolicyEngine(policies) if policies else None,
    )  # fmt: skip
    return Conversation(wired, world, chat)


async def initech(store: Store) -> SandboxWorld:
    clock = ManualClock(ORG.now)  # type: ignore[arg-type]
    return await SandboxWorld.create(store.child("world"), ORG, clock, reset=True)


def opting_out(tmp_path: Path, groups: str) -> Path:
    """The shipped policies, with the members of `groups` left alone."""
    folder = tmp_path / "policies"
    shutil.copytree(default_policy_dir(), folder)
    (folder / "96-opt-out.cedar").write_text(
        '@id("outreach.opt-out")\n@reason("opted_out")\n'
        'forbid (principal, action == Action::"reach_out", resource)\n'
        f"when {{ context.groups.containsAny([{groups}]) }};\n"
    )
    return folder


def outreach(desk: WiredDesk) -> Any:
    assert desk.outreach is not None
    return desk.outreach


async def audited(desk: WiredDesk, prefix: str = "outreach.") -> list[dict[str, Any]]:
    return [r.record async for r in desk.audit.records() if r.record["type"].startswith(prefix)]


def question(chat: RecordingChat, person: str) -> Message:
    asked = [m for m in chat.dm(person) if m.card and m.card.title == texts.say("outreach.title")]
    assert asked, f"no lockout question in {person}'s DM"
    return asked[-1]


def button(message: Message, label_key: str) -> Button:
    assert message.card is not None
    label = texts.say(label_key)
    return next(b for b in message.card.buttons if b.label == label)


async def started(desk: Conversation) -> None:
    """The desk's first poll, which only marks where the feed starts."""
    assert await outreach(desk.desk).poll() == 0


@pytest.fixture
async def world(store: Store) -> SandboxWorld:
    """Initech with nobody locked out yet (the org file has peter and victor locked)."""
    found = await initech(store)
    for person in ("peter", "victor"):
        await found.directory.set_locked(person, False)
    return found


# --- the poll ----------------------------------------------------------------------------


async def test_a_lockout_is_asked_about_once_with_two_buttons(
    store: Store, world: SandboxWorld
) -> None:
    desk = await desk_over(store, world, Chat())
    await started(desk)
    await world.directory.lock_out("peter")
    assert await outreach(desk.desk).poll() == 1

    asked = question(desk.chat, "peter")
    assert asked.card is not None
    at = f"{world.clock.now():%H:%M} UTC"
    assert asked.card.text == texts.say("outreach.locked", time=at, reason="failed sign-ins")
    labels = [b.label for b in asked.card.buttons]
    assert labels == [texts.say("outreach.unlock_me"), texts.say("outreach.not_me")]
    # the same lockout again (at the cursor's own time) is not asked about twice
    assert await outreach(desk.desk).poll() == 0
    assert len(desk.chat.dm("peter")) == 1
    [sent] = await audited(desk.desk)
    assert sent["type"] == "outreach.sent"
    assert sent["user"] == "peter"
    assert sent["source"] == "sandbox"
    assert sent["message"] == asked.id


async def test_a_first_poll_starts_now_and_the_cursor_is_kept(
    store: Store, world: SandboxWorld
) -> None:
    await world.directory.lock_out("peter")  # before the desk ever looked: history
    world.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    desk = await desk_over(store, world, Chat())
    await started(desk)
    assert await outreach(desk.desk).poll() == 0
    assert desk.chat.dm("peter") == []

    await world.directory.lock_out("samir")
    again = await desk_over(store, world, Chat())  # a desk started later reads on from there
    assert await outreach(again.desk).poll() == 1
    assert again.chat.dm("samir")
    assert again.chat.dm("peter") == []


async def test_two_desks_polling_at_once_ask_once(store: Store, world: SandboxWorld) -> None:
    one, two = await desk_over(store, world, Chat()), await desk_over(store, world, Chat())
    await started(one)
    for person in ("peter", "samir", "joanna"):
        await world.directory.lock_out(person)
    reached = await asyncio.gather(outreach(one.desk).poll(), outreach(two.desk).poll())
    assert sum(reached) == 3
    for person in ("peter", "samir", "joanna"):
        assert len(one.chat.dm(person)) + len(two.chat.dm(person)) == 1


async def test_an_opted_out_group_is_left_alone_but_a_privileged_account_never(
    store: Store, world: SandboxWorld, tmp_path: Path
) -> None:
    desk = await desk_over(store, world, Chat(), policies=opting_out(tmp_path, '"leadership"'))
    await outreach(desk.desk).start()  # the group is one the directory has
    await started(desk)
    await world.directory.lock_out("nina")  # in leadership
    await world.directory.lock_out("victor")  # in leadership, and privileged
    await world.directory.lock_out("peter")  # not in leadership
    assert await outreach(desk.desk).poll() == 2

    assert desk.chat.dm("nina") == []
    assert question(desk.chat, "victor")
    assert question(desk.chat, "peter")
    skipped = [r for r in await audited(desk.desk) if r["type"] == "outreach.skipped"]
    assert [(r["user"], r["reason"], r["policies"]) for r in skipped] == [
        ("nina", "opted_out", ["outreach.opt-out"])
    ]


async def test_a_group_policy_names_that_the_directory_lacks_stops_start_up(
    store: Store, world: SandboxWorld, tmp_path: Path
) -> None:
    folder = opting_out(tmp_path, '"sales", "kiosks"')
    desk = await desk_over(store, world, Chat(), policies=folder)
    with pytest.raises(PolicyError, match=r"outreach\.opt-out: no group 'kiosks' in the dir"):
        await outreach(desk.desk).start()


async def test_someone_the_directory_does_not_know_is_not_written_to(
    store: Store, world: SandboxWorld
) -> None:
    feed = Feed()
    at = world.clock.now()
    ghost = Lockout(id="L-1", username="ghost", at=at, source="ad", reason="failed sign-ins")
    peter = Lockout(id="L-2", username="peter", at=at, source="ad", reason="failed sign-ins")
    feed.pages.append(LockoutPage(lockouts=(ghost, peter), cursor="c-2"))
    desk = await desk_over(store, world, Chat(), feed=feed)
    assert await outreach(desk.desk).poll() == 1
    assert desk.chat.dm_recipients() == {"peter"}
    assert [r["user"] for r in await audited(desk.desk)] == ["peter"]


async def test_a_feed_that_is_down_is_polled_again_later_from_the_same_cursor(
    store: Store, world: SandboxWorld
) -> None:
    feed = Feed()
    at = world.clock.now()
    peter = Lockout(id="L-9", username="peter", at=at, source="ldap", reason="failed sign-ins")
    feed.pages = [LockoutPage(cursor="c-1"), LockoutPage(lockouts=(peter,), cursor="c-2")]
    desk = await desk_over(store, world, Chat(), feed=feed)
    await outreach(desk.desk).start()
    scheduler = desk.desk.scheduler
    await scheduler.run_due()  # the first poll: from nowhere to c-1
    assert feed.asked == [None]

    feed.failures = 2
    await advance(desk.clock, scheduler, timedelta(minutes=1))
    [job] = [j for j in await scheduler.pending() if j.id == POLL_ID]
    assert job.attempts >= 1  # failed, and queued again (never given up)
    await advance(desk.clock, scheduler, timedelta(minutes=10))
    assert feed.asked[:4] == [None, "c-1", "c-1", "c-1"]
    assert question(desk.chat, "peter")
    assert feed.asked[-1] == "c-2"
    assert await scheduler.dead_letters() == []


async def test_someone_the_chat_cannot_reach_is_told_by_email(
    store: Store, world: SandboxWorld
) -> None:
    desk = await desk_over(store, world, Chat(unreachable=["peter"]))
    await started(desk)
    await world.directory.lock_out("peter")
    assert await outreach(desk.desk).poll() == 1

    assert desk.chat.dm("peter") == []
    [mail] = [i for i in await world.outbox.items("peter") if i.kind == "notification"]
    at = f"{world.clock.now():%H:%M} UTC"
    notice = texts.say("outreach.locked", time=at, reason="failed sign-ins")
    assert mail.text == texts.say("outreach.email", notice=notice)
    assert mail.channel == "email_all"
    kinds = [r["type"] for r in await audited(desk.desk)]
    assert kinds == ["outreach.dm_failed", "outreach.emailed"]


# --- the answers -------------------------------------------------------------------------


async def asked(store: Store, world: SandboxWorld, person: str) -> tuple[Conversation, Message]:
    desk = await desk_over(store, world, Chat())
    await started(desk)
    await world.directory.lock_out(person)
    await outreach(desk.desk).poll()
    return desk, question(desk.chat, person)


async def test_unlock_me_is_the_ordinary_unlock_with_step_up(
    store: Store, world: SandboxWorld
) -> None:
    desk, message = await asked(store, world, "peter")
    unlock = button(message, "outreach.unlock_me")

    # anyone else pressing it changes nothing, and hears so
    said = await desk.click("samir", unlock, conversation_id="dm:samir")
    assert desk.said(said) == [texts.say("button.not_yours")]

    await desk.click("peter", unlock)
    case = await desk.case("peter")
    assert case.intent == "account_unlock"
    assert (await world.directory.person("peter")).locked  # type: ignore[union-attr]
    await desk.verify("peter")
    assert not (await world.directory.person("peter")).locked  # type: ignore[union-attr]
    assert message.card is not None
    assert not message.card.buttons

    again = await desk.click("peter", button(_first(message), "outreach.not_me"))
    assert desk.said(again) == [texts.say("outreach.already_answered")]
    answers = [r for r in await audited(desk.desk) if r["type"] == "outreach.answered"]
    assert [(r["answer"], r["by"]) for r in answers] == [("outreach_unlock", "peter")]
    refused = [r for r in await audited(desk.desk, "click.") if r["type"] == "click.refused"]
    assert [r["by"] for r in refused] == ["samir"]


def _first(message: Message) -> Message:
    """The message as it was first sent (its buttons), though it has been answered since."""
    first = Message(message.id, message.place, message.seq, ephemeral=False)
    first.versions.append(message.versions[0])
    return first


async def test_that_was_not_me_tells_security_at_once_and_keeps_the_lock(
    store: Store, world: SandboxWorld
) -> None:
    desk, message = await asked(store, world, "peter")
    said = await desk.click("peter", button(message, "outreach.not_me"))

    assert texts.say("outreach.not_me_reply") in desk.said(said)
    assert (await world.directory.person("peter")).locked  # type: ignore[union-attr]
    case = await desk.case("peter")
    assert case.status == "escalated"
    [ticket] = await world.tickets.of_requester("peter")
    assert (ticket.queue, ticket.priority) == ("security", "urgent")
    assert "sandbox" in ticket.details
    assert "failed sign-ins" in ticket.details
    notices = desk.dm_texts("omar")  # the security role
    assert any("Peter" in text for text in notices)

    again = await desk.click("peter", button(_first(message), "outreach.unlock_me"))
    assert desk.said(again) == [texts.say("outreach.already_answered")]
    assert len(await desk.desk.cases.ids_of("peter")) == 1


async def test_a_risky_sign_in_is_asked_about_in_its_own_words(
    store: Store, world: SandboxWorld
) -> None:
    feed = Feed()
    risky = Lockout(id="R-1", username="peter", at=world.clock.now(), kind="risk",
                    source="entra", reason="unfamiliar sign-in properties")  # fmt: skip
    feed.pages.append(LockoutPage(lockouts=(risky,), cursor="c-1"))
    desk = await desk_over(store, world, Chat(), feed=feed)
    await outreach(desk.desk).poll()

    message = question(desk.chat, "peter")
    assert message.card is not None
    at = f"{world.clock.now():%H:%M} UTC"
    assert message.card.text == texts.say("outreach.risk", time=at,
                                          reason="unfamiliar sign-in properties")  # fmt: skip
    assert [b.label for b in message.card.buttons] == [
        texts.say("outreach.not_me"), texts.say("outreach.was_me")
    ]  # fmt: skip
    said = await desk.click("peter", button(message, "outreach.was_me"))
    assert desk.said(said)[-1] == texts.say("outreach.was_me_reply")
    assert message.card is not None
    assert not message.card.buttons
    assert message.card.context == texts.say("outreach.answered_was_me")
    assert await desk.desk.cases.ids_of("peter") == []


async def test_a_person_is_reached_when_any_chat_that_can_tell_reaches_them() -> None:
    assert not await FanOut().reaches("peter")
    assert not await FanOut(RecordingChat()).reaches("peter")  # cannot tell: not counted
    assert await FanOut(RecordingChat(), Chat(unreachable=["samir"])).reaches("peter")
    assert not await FanOut(Chat(unreachable=["peter"]), Chat(["peter"])).reaches("peter")
    assert await FanOut(Chat(unreachable=["peter"]), Chat()).reaches("peter")


async def test_a_risky_sign_in_that_was_not_them_goes_to_security_without_saying_locked(
    store: Store, world: SandboxWorld
) -> None:
    feed = Feed()
    risky = Lockout(id="R-2", username="samir", at=world.clock.now(), kind="risk",
                    source="entra")  # fmt: skip
    feed.pages.append(LockoutPage(lockouts=(risky,), cursor="c-1"))
    desk = await desk_over(store, world, Chat(), feed=feed)
    await outreach(desk.desk).poll()

    message = question(desk.chat, "samir")
    at = f"{world.clock.now():%H:%M} UTC"
    assert message.latest.text == texts.say("outreach.risk_plain", time=at)
    said = await desk.click("samir", button(message, "outreach.not_me"))
    assert desk.said(said)[-1] == texts.say("outreach.not_me_reply_risk")
    assert message.card is not None
    assert message.card.context == texts.say("outreach.answered_not_me_risk")
    [ticket] = await world.tickets.of_requester("samir")
    assert ticket.queue == "security"
    assert texts.say("outreach.note_kept_risk") in ticket.details


async def test_a_risky_sign_in_is_told_by_email_without_offering_an_unlock(
    store: Store, world: SandboxWorld
) -> None:
    feed = Feed()
    risky = Lockout(id="R-3", username="peter", at=world.clock.now(), kind="risk",
                    source="entra", reason="an anonymous IP address")  # fmt: skip
    feed.pages.append(LockoutPage(lockouts=(risky,), cursor="c-1"))
    desk = await desk_over(store, world, Chat(unreachable=["peter"]), feed=feed)
    await outreach(desk.desk).poll()
    [mail] = [i for i in await world.outbox.items("peter") if i.kind == "notification"]
    at = f"{world.clock.now():%H:%M} UTC"
    notice = texts.say("outreach.risk", time=at, reason="an anonymous IP address")
    assert mail.text == texts.say("outreach.email_risk", notice=notice)


async def test_polling_every_zero_seconds_is_off(store: Store, world: SandboxWorld) -> None:
    settings = load_settings(lockout_poll_seconds=0, _env_file=None)
    off = build_desk(store, world.backends(), world.clock, settings=settings,
                     knowledge=KnowledgeBase.load(world.knowledge))  # fmt: skip
    assert off.outreach is None
    every = load_settings(lockout_poll_seconds=30, _env_file=None)
    on = build_desk(store, world.backends(), world.clock, settings=every,
                    knowledge=KnowledgeBase.load(world.knowledge))  # fmt: skip
    await outreach(on).start()
    [job] = [j for j in await on.scheduler.pending() if j.id == POLL_ID]
    await on.scheduler.run_due()
    [after] = [j for j in await on.scheduler.pending() if j.id == POLL_ID]
    assert after.due - job.due == timedelta(seconds=30)
