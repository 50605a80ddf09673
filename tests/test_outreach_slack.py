"""Reaching out first about lockouts, end to end in Slack: the sandbox locks an account after
failed sign-ins, the desk's poll finds it in the sandbox's lockout feed and DMs the person in
the fake Slack workspace of the Slack tests, and the buttons are pressed the way Slack sends
a press."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_slack import ONCALL, MakeDesk, SlackDesk, make_desk, uid

from bot import texts

__all__ = ["make_desk"]  # the Slack tests' fixture, used here


@pytest.fixture
async def slack(make_desk: MakeDesk) -> SlackDesk:
    desk = await make_desk()
    await desk.world.directory.set_locked("alice", False)  # Globex has her locked already
    assert desk.desk.outreach is not None
    assert await desk.desk.outreach.poll() == 0  # the first poll: the feed starts now
    return desk


async def locked_out(slack: SlackDesk, who: str) -> None:
    """`who` mistypes their password too often; the desk's next poll finds it."""
    await slack.world.directory.lock_out(who)
    assert slack.desk.outreach is not None
    assert await slack.desk.outreach.poll() == 1
    await slack.adapter.settled()


def person(slack: SlackDesk, who: str) -> Any:
    return slack.world.directory.person(who)


async def test_unlock_me_goes_through_the_ordinary_step_up(slack: SlackDesk) -> None:
    await slack.sms_only("alice")
    await locked_out(slack, "alice")

    asked = slack.last_dm("alice")
    at = f"{slack.clock.now():%H:%M} UTC"
    assert texts.say("outreach.locked", time=at, reason="failed sign-ins") in asked.words()
    asked.button(texts.say("outreach.not_me"))
    await slack.click("alice", asked, texts.say("outreach.unlock_me"))

    assert "code" in slack.last_dm("alice").text.lower()  # the sandbox phone got a code
    assert (await person(slack, "alice")).locked
    await slack.say("alice", await slack.sms_code("alice"))
    assert not (await person(slack, "alice")).locked
    assert "unlocked" in slack.last_dm("alice").words()

    answered = next(m for m in slack.dm("alice") if m.ts == asked.ts)  # edited in place
    assert answered.buttons() == []
    assert texts.say("outreach.answered_unlock") in answered.words()


async def test_that_was_not_me_reaches_security_and_the_account_stays_locked(
    slack: SlackDesk,
) -> None:
    await locked_out(slack, "bob")
    asked = copy.deepcopy(slack.last_dm("bob"))  # as first posted, with its buttons
    await slack.click("bob", asked, texts.say("outreach.not_me"))

    assert texts.say("outreach.not_me_reply") in [m.text for m in slack.dm("bob")]
    assert (await person(slack, "bob")).locked
    thread = slack.fake.in_channel(ONCALL)
    assert thread
    assert "failed sign-ins" in thread[-1].words()
    assert any("Bob" in m.text for m in slack.dm("hank"))  # the security role, at once
    [ticket] = await slack.world.tickets.of_requester("bob")
    assert (ticket.queue, ticket.priority) == ("security", "urgent")

    # pressing the other button of the (old) message afterwards changes nothing
    await slack.click("bob", asked, texts.say("outreach.unlock_me"))
    assert slack.last_dm("bob").text == texts.say("outreach.already_answered")
    assert (await person(slack, "bob")).locked


async def test_someone_not_in_slack_is_told_by_email(slack: SlackDesk) -> None:
    slack.fake.users = [u for u in slack.fake.users if u.id != uid("grace")]
    await locked_out(slack, "grace")

    assert slack.dm("grace") == []
    mails = [i for i in await slack.world.outbox.items("grace") if i.kind == "notification"]
    assert len(mails) == 1
    assert "failed sign-ins" in mails[0].text
    assert texts.say("outreach.unlock_me") not in mails[0].text  # words only, no buttons
