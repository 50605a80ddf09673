"""Reaching out first as a real organisation runs the desk (`itdesk serve` over a real slapd,
in the fake Slack workspace, with real mail): ppolicy locks Ana out after three failed
binds, the desk's poll finds it and DMs her, and [Unlock me] is the ordinary unlock, its
code e-mailed to the address on record."""

from __future__ import annotations

from test_real_directory import CODE, Company, company
from waiting import until

from bot import texts

__all__ = ["company"]  # the real-directory tests' fixture, used here


async def test_a_ppolicy_lockout_is_asked_about_and_unlocked_after_step_up(
    company: Company,
) -> None:
    outreach = company.runtime.desk.outreach
    assert outreach is not None
    await outreach.start()  # the poll is scheduled when the runtime starts; again is harmless
    ana = company.tenant.dn("ana")

    async def first_poll_done() -> bool:  # the runtime's own first poll: the feed starts now
        raw = await company.runtime.store.redis.get(company.runtime.store.key("outreach", "cursor"))
        return raw is not None

    await until(first_poll_done)
    for _ in range(3):
        assert not company.slapd.can_bind(ana, "not her password")
    assert await outreach.poll() == 1

    asked = await company.answer("ana", 1)
    assert "failed sign-ins" in asked.words()
    await company.presses("ana", asked, texts.say("outreach.unlock_me"))
    code = CODE.search(await company.mail_to("ana.home@example.net", 1))
    assert code is not None
    assert not company.slapd.can_bind(ana, company.tenant.passwords["ana"])  # still locked
    await company.says("ana", code[1])

    async def unlocked() -> bool:
        return company.slapd.can_bind(ana, company.tenant.passwords["ana"])

    await until(unlocked)
    assert await outreach.poll() == 0  # unlocked: nothing new to ask about
