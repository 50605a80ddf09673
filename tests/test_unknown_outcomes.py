"""A write whose answer is lost (a timeout, a dropped connection) is "unknown" until the
backend is read back: done if it shows the change, done once more if it does not, "checking"
while it cannot be read, and a human's once it has been unreadable for long or cannot be
read back at all (a link sent)."""

from __future__ import annotations

from typing import Any

import pytest
from harness import Conversation, conversation

from bot import texts
from bot.acting import CHECK_FOR
from bot.cases import CaseStatus
from bot.events import Checking
from bot.ports import OutcomeUnknown
from bot.state.actions import ActionRepository
from bot.store import Store
from skills.accounts import UnlockAccount


@pytest.fixture
async def desk(store: Store) -> Conversation:
    return await conversation(store)


LOCKED_OUT = "my account got locked after too many wrong passwords"


def lost_answer(desk: Conversation, monkeypatch: pytest.MonkeyPatch, *, applied: bool) -> list[Any]:
    """The directory's unlock times out once: after making the change, or before."""
    calls: list[Any] = []
    real = desk.world.directory.set_locked

    async def set_locked(username: str, locked: bool) -> None:
        calls.append((username, locked))
        if len(calls) == 1:
            if applied:
                await real(username, locked)
            raise TimeoutError("the directory did not answer in 10 s")
        await real(username, locked)

    monkeypatch.setattr(desk.world.directory, "set_locked", set_locked)
    return calls


async def test_a_write_that_took_effect_before_its_answer_was_lost_is_read_back_not_redone(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = lost_answer(desk, monkeypatch, applied=True)
    await desk.say("peter", LOCKED_OUT)
    await desk.verify("peter")
    assert calls == [("peter", False)]  # read back, found unlocked: not sent again
    case = await desk.case("peter")
    assert case.status == CaseStatus.RESOLVED
    [record] = await desk.actions()
    assert (record["skill"], record["changed"]) == ("unlock_account", True)
    assert texts.say("result.action_failed") not in desk.dm_texts("peter")


async def test_a_write_that_did_not_take_effect_is_done_once_after_the_read_back(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = lost_answer(desk, monkeypatch, applied=False)
    await desk.say("peter", LOCKED_OUT)
    await desk.verify("peter")
    assert calls == [("peter", False), ("peter", False)]
    peter = await desk.world.directory.person("peter")
    assert peter is not None
    assert not peter.locked
    assert (await desk.case("peter")).status == CaseStatus.RESOLVED
    assert len(await desk.actions()) == 1


def directory_down(desk: Conversation, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Writes time out and reads fail until `down` is emptied."""
    down = [True]
    real_person, real_lock = desk.world.directory.person, desk.world.directory.set_locked
    written: list[bool] = []

    async def person(username: str) -> Any:
        if down and written:
            raise ConnectionError("directory unreachable")
        return await real_person(username)

    async def set_locked(username: str, locked: bool) -> None:
        if down:
            written.append(True)
            raise OutcomeUnknown("the connection dropped mid-call")
        await real_lock(username, locked)

    monkeypatch.setattr(desk.world.directory, "person", person)
    monkeypatch.setattr(desk.world.directory, "set_locked", set_locked)
    return down


async def test_while_the_backend_cannot_be_read_the_person_hears_checking_then_the_outcome(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = directory_down(desk, monkeypatch)
    await desk.say("peter", LOCKED_OUT)
    await desk.verify("peter")
    case = await desk.case("peter")
    assert case.status == CaseStatus.EXECUTING
    assert case.last(Checking) is not None
    assert desk.dm_texts("peter")[-1] == texts.say("result.checking")
    assert await desk.actions() == []

    await desk.wait(minutes=1)  # read again: still down, and nothing more is said
    assert desk.dm_texts("peter").count(texts.say("result.checking")) == 1

    down.clear()
    await desk.wait(minutes=1)
    case = await desk.case("peter")
    assert case.status == CaseStatus.RESOLVED
    [record] = await desk.actions()
    assert record["changed"] is True
    assert sum(1 for m in desk.chat.dm("peter") if m.card and m.card.kind == "status") == 1
    assert await ActionRepository(desk.desk.store).open_intents() == []


async def test_an_outcome_unknown_for_too_long_goes_to_a_human_with_the_facts(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def lost(username: str, locked: bool) -> None:
        raise OutcomeUnknown("the connection dropped mid-call")

    async def unreadable(self: UnlockAccount, ctx: Any, params: Any) -> bool:
        if locked_out_checked:
            raise ConnectionError("the directory's read endpoint is down")
        locked_out_checked.append(True)  # the check before the write still answers
        return False

    locked_out_checked: list[bool] = []
    monkeypatch.setattr(desk.world.directory, "set_locked", lost)
    monkeypatch.setattr(UnlockAccount, "verify", unreadable)
    await desk.say("peter", LOCKED_OUT)
    await desk.verify("peter")
    await desk.wait(seconds=CHECK_FOR.total_seconds() + 60)
    case = await desk.case("peter")
    assert case.status == CaseStatus.ESCALATED
    ticket = await desk.world.tickets.get(case.ticket_id or "")
    assert ticket is not None
    assert "outcome unknown" in ticket.details
    assert desk.dm_texts("peter")[-2:].count(texts.say("result.unconfirmed")) == 1
    assert await desk.actions() == []  # nothing claimed done that was not seen done


async def test_a_link_whose_sending_is_unconfirmed_is_not_sent_twice_but_checked_by_a_human(
    desk: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    real = desk.world.directory.send_reset_link

    async def send_reset_link(username: str, *, key: str | None = None) -> Any:
        sent.append(username)
        await real(username, key=key)
        raise TimeoutError("the mail gateway did not answer")

    monkeypatch.setattr(desk.world.directory, "send_reset_link", send_reset_link)
    await desk.say("zoe", "forgot my password, can you send me a reset?")
    await desk.verify("zoe")
    assert sent == ["zoe"]
    case = await desk.case("zoe")
    assert case.status == CaseStatus.ESCALATED
    assert texts.say("result.unconfirmed") in desk.dm_texts("zoe")
    assert await desk.actions() == []
