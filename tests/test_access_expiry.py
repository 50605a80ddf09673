"""Time-bound access whose removal never gives up: a directory that refuses the removal for
hours gets it retried with jittered, bounded backoff and never dead-lettered; past the overdue
bound the grant is flagged (a case event, on call told once, the person's card updated); when
the directory recovers the removal lands and its lateness is recorded. The sweep leaves a
removal job alone until its own removal was read back, a human can stop the retries, and a
grant never confirmed as the desk's is flagged, not removed.

Every test runs a desk over the Initech sandbox on a real Redis, its directory seen through
`Outage`, and moves a manual clock with the scheduler's `advance`."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from harness import Conversation, conversation

from adapters.chat.recording import Message
from bot import texts
from bot.access import REMOVAL_RETRY, TimeBoundAccess
from bot.actions import Provenance
from bot.cases import Case
from bot.clock import ManualClock
from bot.context import CaseLog, TurnContext
from bot.events import AccessEnded, AccessOverdue, AccessStopped, StatusCard
from bot.models import Group, Person
from bot.plans import PlanStep
from bot.ports import Directory
from bot.settings import Settings, SettingsError, load_settings
from bot.state.grants import Grant, GrantRepository
from bot.store import Store

GROUP = "pipeline-reports"
NAME = "Pipeline Reports"


class Outage:
    """The sandbox directory through an outage: while `removals_down` every removal is
    refused (as a directory answering 503 to writes), while `reads_down` every lookup too.
    It notes when each removal reached it."""

    def __init__(self, inner: Directory) -> None:
        self._inner = inner
        self.clock: ManualClock | None = None
        self.removals_down = False
        self.reads_down = False
        self.tried: list[datetime] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def remove_member(self, username: str, group_id: str) -> None:
        assert self.clock is not None
        self.tried.append(self.clock.now())
        if self.removals_down:
            raise RuntimeError("directory answered 503 Service Unavailable")
        await self._inner.remove_member(username, group_id)

    async def person(self, username: str) -> Person | None:
        if self.reads_down:
            raise ConnectionError("directory unreachable")
        return await self._inner.person(username)

    async def group(self, group_id: str) -> Group | None:
        if self.reads_down:
            raise ConnectionError("directory unreachable")
        return await self._inner.group(group_id)


async def desk_through_outage(
    store: Store, settings: Settings | None = None
) -> tuple[Conversation, Outage]:
    outages: list[Outage] = []

    def through_outage(inner: Directory) -> Directory:
        outages.append(Outage(inner))
        return outages[-1]  # type: ignore[return-value]

    desk = await conversation(store, directory=through_outage, settings=settings)
    outages[0].clock = desk.clock
    return desk, outages[0]


@pytest.fixture
async def desk_and_outage(store: Store) -> tuple[Conversation, Outage]:
    return await desk_through_outage(store)


async def granted(desk: Conversation) -> Grant:
    """Zoe is given Pipeline Reports for two weeks (nina approves)."""
    await desk.say("zoe", "I need the pipeline reports group for 2 weeks while I build a dashboard")
    await desk.verify("zoe")
    await desk.press("nina", "approve")
    grant = await grants(desk).get("zoe", GROUP)
    assert grant is not None
    assert grant.confirmed
    assert GROUP in await desk.groups_of("zoe")
    return grant


def grants(desk: Conversation) -> GrantRepository:
    return GrantRepository(desk.desk.store)


def access(desk: Conversation) -> TimeBoundAccess:
    return desk.desk.access


async def until_due(desk: Conversation, grant: Grant) -> None:
    await desk.wait(seconds=(grant.until - desk.clock.now()).total_seconds())


async def jobs_of(desk: Conversation, grant: Grant) -> dict[str, int]:
    """The grant's pending jobs, by kind, with their attempts so far."""
    return {
        job.kind: job.attempts
        for job in await desk.desk.scheduler.pending()
        if job.payload.get("case") == grant.case
    }


def status_card(desk: Conversation, case: Case, person: str) -> Message:
    shown = case.last(StatusCard)
    assert shown is not None
    [message] = [m for m in desk.chat.dm(person) if m.id == shown.message]
    return message


def due_text(at: datetime) -> str:
    return at.strftime("%a %d %b %Y %H:%M UTC")


async def audited(desk: Conversation, kind: str) -> list[dict[str, Any]]:
    return [r.record async for r in desk.desk.audit.records() if r.record.get("type") == kind]


async def test_a_removal_refused_for_hours_is_flagged_once_and_lands_when_the_directory_is_back(
    desk_and_outage: tuple[Conversation, Outage],
) -> None:
    desk, outage = desk_and_outage
    grant = await granted(desk)
    outage.removals_down = True

    await until_due(desk, grant)
    assert outage.tried == [grant.until]
    await desk.wait(minutes=59)
    case = await desk.case("zoe")
    assert case.last(AccessOverdue) is None
    assert desk.chat.thread(case.id) == []  # nobody bothered before the bound
    # 1 min doubling, each gap within ±20% of its nominal value, and not exactly it
    gaps = [(b - a).total_seconds() / 60 for a, b in pairwise(outage.tried)]
    assert len(gaps) in (5, 6)  # due at 1, 3, 7, 15, 31 and 63 min, each spread by jitter
    for gap, nominal in zip(gaps, [1, 2, 4, 8, 16, 32], strict=False):
        assert 0.8 * nominal <= gap <= 1.2 * nominal
    assert gaps != [1, 2, 4, 8, 16, 32][: len(gaps)]

    await desk.wait(minutes=1)  # the overdue bound: one more try, which fails and flags
    assert grant.until + timedelta(minutes=60) in outage.tried
    case = await desk.case("zoe")
    overdue = case.last(AccessOverdue)
    assert overdue is not None
    assert (overdue.reason, overdue.user, overdue.group, overdue.due) == (
        "overdue",
        "zoe",
        GROUP,
        grant.until,
    )
    assert overdue.attempts == len(outage.tried)
    assert overdue.first_failure == grant.until
    assert overdue.last_error == "RuntimeError: directory answered 503 Service Unavailable"
    [notice] = desk.chat.thread(case.id)
    assert notice.card is not None
    assert notice.card.title == texts.say("access.overdue_title")
    fields = {f.label: f.value for f in notice.card.fields}
    assert fields[texts.say("access.person_field")] == "Zoe Adler"
    assert fields[texts.say("access.attempts_field")] == str(overdue.attempts)
    assert case.id in (notice.card.context or "")
    assert status_card(desk, case, "zoe").card.context == texts.say(  # type: ignore[union-attr]
        "access.still_there", group=NAME, due=due_text(grant.until)
    )

    flagged = len(outage.tried)
    await desk.wait(hours=3)  # still refused: still tried, on call not told again
    case = await desk.case("zoe")
    assert len(case.all(AccessOverdue)) == 1
    assert len(desk.chat.thread(case.id)) == 1
    assert len(outage.tried) >= flagged + 3
    gaps = [b - a for a, b in pairwise(outage.tried)]
    assert max(gaps) <= timedelta(hours=1)
    assert max(gaps) >= timedelta(minutes=48)  # capped at an hour, spread below it
    assert GROUP in await desk.groups_of("zoe")
    # the job's own failures (all but the check at the bound), well past the default five
    assert (await jobs_of(desk, grant))["access.expire"] == len(outage.tried) - 1 >= 9
    assert await desk.desk.scheduler.dead_letters() == []

    outage.removals_down = False  # the directory is back
    back = desk.clock.now()
    await desk.wait(hours=1)
    assert GROUP not in await desk.groups_of("zoe")
    assert await grants(desk).get("zoe", GROUP) is None
    assert await jobs_of(desk, grant) == {}
    case = await desk.case("zoe")
    ended = case.last(AccessEnded)
    assert ended is not None
    assert ended.removed_at == outage.tried[-1]
    assert back < ended.removed_at <= back + timedelta(hours=1)
    assert ended.due == grant.until
    assert ended.late_by_seconds == int((ended.removed_at - grant.until).total_seconds())
    assert ended.attempts == len(outage.tried) - 1  # every try but the last failed
    assert texts.say("access.ended", group=NAME) in desk.dm_texts("zoe")
    assert status_card(desk, case, "zoe").card.context == texts.say(  # type: ignore[union-attr]
        "access.ended_card", group=NAME
    )
    resolved = texts.say(
        "access.removed_late",
        person="Zoe Adler",
        group=NAME,
        late=texts.say("access.hours", count=round(ended.late_by_seconds / 3600)),
    )
    notice, line = desk.chat.thread(case.id)
    assert line.latest.text == resolved
    assert notice.card is not None
    assert notice.card.context == resolved  # the notice itself says it is over
    [record] = await audited(desk, "access.ended")
    assert record["data"]["late_by_seconds"] == ended.late_by_seconds
    assert record["data"]["due"] == grant.until.isoformat().replace("+00:00", "Z")
    assert len(await audited(desk, "access.overdue")) == 1
    assert await desk.desk.scheduler.dead_letters() == []


async def test_an_on_time_removal_records_its_end_without_telling_on_call(
    desk_and_outage: tuple[Conversation, Outage],
) -> None:
    desk, _ = desk_and_outage
    grant = await granted(desk)
    await until_due(desk, grant)
    case = await desk.case("zoe")
    ended = case.last(AccessEnded)
    assert ended is not None
    assert (ended.late_by_seconds, ended.attempts) == (0, 0)
    assert desk.chat.thread(case.id) == []
    assert await jobs_of(desk, grant) == {}


async def test_with_the_whole_directory_down_the_grant_is_still_flagged(
    desk_and_outage: tuple[Conversation, Outage],
) -> None:
    desk, outage = desk_and_outage
    grant = await granted(desk)
    await desk.wait(seconds=(grant.until - desk.clock.now()).total_seconds() - 60)
    outage.removals_down = outage.reads_down = True
    await desk.wait(minutes=61)
    case = await desk.case("zoe")
    overdue = case.last(AccessOverdue)
    assert overdue is not None
    assert overdue.last_error == "ConnectionError: directory unreachable"
    [notice] = desk.chat.thread(case.id)
    assert notice.card is not None
    fields = {f.label: f.value for f in notice.card.fields}
    assert fields[texts.say("access.person_field")] == "zoe"  # names unknown: ids
    outage.removals_down = outage.reads_down = False
    await desk.wait(hours=1)
    assert GROUP not in await desk.groups_of("zoe")
    assert await desk.desk.scheduler.dead_letters() == []


async def test_a_removal_done_before_but_undone_since_is_not_taken_for_done(
    desk_and_outage: tuple[Conversation, Outage],
) -> None:
    """The removal ran under the grant's key once (a run that then died), and the person
    was put back by hand since: the record alone does not end the grant, the read-back does."""
    desk, _ = desk_and_outage
    grant = await granted(desk)
    case = await desk.case("zoe")
    zoe = await desk.world.directory.person("zoe")
    assert zoe is not None
    why = Provenance(requested_by="zoe", approved_by=(), policy=("test",), verification=None)
    step = PlanStep(skill="remove_from_group", params={"user": "zoe", "group": GROUP})
    ctx = TurnContext(
        turn=desk.turn("zoe"), person=zoe, log=CaseLog(desk.desk.cases, desk.desk.metrics)
    )
    await desk.desk.actions.run(ctx, case, step, why, key=f"expire:{case.id}:{GROUP}")
    await desk.world.directory.add_member("zoe", GROUP)

    await until_due(desk, grant)
    assert GROUP in await desk.groups_of("zoe")  # the old record did not count
    await desk.wait(minutes=5)
    assert GROUP not in await desk.groups_of("zoe")
    ended = (await desk.case("zoe")).last(AccessEnded)
    assert ended is not None
    assert ended.attempts == 1
    assert [s for s, _ in await desk.executed()].count("remove_from_group") == 2


async def test_the_sweep_leaves_a_removal_job_alone_and_revives_a_lost_one(
    desk_and_outage: tuple[Conversation, Outage],
) -> None:
    desk, outage = desk_and_outage
    scheduler = desk.desk.scheduler
    grant = await granted(desk)
    outage.removals_down = True
    await until_due(desk, grant)  # the sweep falls due then too
    expire = f"access-expire:{grant.case}:{GROUP}"
    [before] = [job for job in await scheduler.pending() if job.id == expire]
    assert before.attempts == 1

    async def sweep() -> None:
        await scheduler.schedule("access.sweep", desk.clock.now(), {}, job_id="access-sweep")
        await scheduler.run_due()

    await sweep()
    assert [job for job in await scheduler.pending() if job.id == expire] == [before]
    assert len(outage.tried) == 1  # the job owns the removal; the sweep did not race it

    await scheduler.cancel(expire)  # the job is lost (a flushed key, a bug)
    await sweep()
    assert len(outage.tried) == 2  # the sweep tried itself, failed, and put a job back
    assert await scheduler.has(expire)
    assert GROUP in await desk.groups_of("zoe")

    await scheduler.cancel(expire)
    outage.removals_down = False
    await sweep()
    assert GROUP not in await desk.groups_of("zoe")
    assert await grants(desk).get("zoe", GROUP) is None
    assert await jobs_of(desk, grant) == {}


async def test_on_call_stops_the_retries_for_one_grant_with_a_reason(
    desk_and_outage: tuple[Conversation, Outage],
) -> None:
    desk, outage = desk_and_outage
    grant = await granted(desk)
    outage.removals_down = True
    await until_due(desk, grant)
    await desk.wait(hours=1)
    case = await desk.case("zoe")
    stop = f"/itdesk access stop {case.id.lower()} {GROUP} removed by hand in the console"

    refused = await desk.command("zoe", stop)
    assert desk.said(refused) == [texts.say("admin.only_admins")]
    assert await grants(desk).get("zoe", GROUP) is not None

    listed = await desk.command("lucy", "/itdesk access")
    failed = len(outage.tried)
    assert desk.said(listed) == [
        texts.say("admin.access_line_overdue", case_id=case.id, user="zoe", group=GROUP,
                  due=f"{grant.until:%Y-%m-%d %H:%M}", attempts=failed)
    ]  # fmt: skip
    said = await desk.command("lucy", stop)
    reason = "removed by hand in the console"
    assert desk.said(said)[-1] == texts.say(
        "admin.access_stopped", user="zoe", group=GROUP, case_id=case.id, reason=reason
    )
    assert await grants(desk).get("zoe", GROUP) is None
    assert await jobs_of(desk, grant) == {}
    tried = len(outage.tried)
    await desk.wait(days=2)
    assert len(outage.tried) == tried  # nothing is tried any more

    case = await desk.case("zoe")
    [(envelope, stopped)] = case.all(AccessStopped)
    assert (envelope.actor, stopped.reason, stopped.attempts) == ("lucy", reason, failed)
    assert "lucy" in case.humans
    [record] = await audited(desk, "access.stopped")
    assert (record["actor"], record["case"], record["data"]["reason"]) == ("lucy", case.id, reason)
    told = texts.say("access.stopped", name="Lucy Kim", person="Zoe Adler", group=NAME,
                     reason=reason)  # fmt: skip
    notice, line = desk.chat.thread(case.id)
    assert line.latest.text == told
    assert notice.card is not None
    assert notice.card.context == told
    assert await desk.desk.scheduler.dead_letters() == []

    again = await desk.command("lucy", stop)
    assert desk.said(again) == [texts.say("admin.access_not_held", case_id=case.id, group=GROUP)]
    assert desk.said(await desk.command("lucy", "/itdesk access")) == [
        texts.say("admin.access_none")
    ]


async def test_an_unconfirmed_grant_at_its_end_is_flagged_for_a_human_not_removed(
    desk_and_outage: tuple[Conversation, Outage],
) -> None:
    """Samir was a member already; the acting side reserved a grant and never confirmed
    it (as after a crash between the write and the confirmation)."""
    desk, outage = desk_and_outage
    await desk.say(
        "samir", "could I get read access to pipeline reports? I'm helping with a forecast"
    )
    await desk.verify("samir")
    await desk.press("nina", "approve")
    case = await desk.case("samir")
    assert await grants(desk).get("samir", GROUP) is None  # the add changed nothing
    await access(desk).reserve(case.id, "samir", GROUP, 14, key=f"{case.id}:0")
    reserved = await grants(desk).get("samir", GROUP)
    await access(desk).reserve(case.id, "samir", GROUP, 14, key=f"{case.id}:0")
    assert await grants(desk).all() == [reserved]  # reserving again changed nothing
    assert reserved is not None
    assert not reserved.confirmed

    await until_due(desk, reserved)
    await desk.wait(days=3)  # the sweep comes by too
    assert GROUP in await desk.groups_of("samir")
    assert outage.tried == []
    assert [s for s, _ in await desk.executed()] == ["add_to_group"]
    case = await desk.case("samir")
    [(_, flagged)] = case.all(AccessOverdue)
    assert (flagged.reason, flagged.attempts) == ("unconfirmed", 0)
    [notice] = desk.chat.thread(case.id)
    assert notice.card is not None
    assert notice.card.title == texts.say("access.unconfirmed_title")
    assert status_card(desk, case, "samir").card.context == texts.say(  # type: ignore[union-attr]
        "access.checking", group=NAME, due=due_text(reserved.until)
    )
    assert await desk.desk.scheduler.dead_letters() == []
    assert await jobs_of(desk, reserved) == {}

    said = await desk.command("tom", f"/itdesk access stop {case.id} {GROUP} keep: member before")
    assert desk.said(said)[-1].startswith("Stopped:")
    assert await grants(desk).all() == []


async def test_reserve_confirm_and_release(desk_and_outage: tuple[Conversation, Outage]) -> None:
    desk, _ = desk_and_outage
    tba = access(desk)
    await tba.reserve("C-RESERVED", "zoe", GROUP, 7, key="C-RESERVED:0")
    reserved = await grants(desk).get("zoe", GROUP)
    assert reserved is not None
    assert (reserved.key, reserved.confirmed) == ("C-RESERVED:0", False)
    assert set(await jobs_of(desk, reserved)) == {"access.warn", "access.expire"}
    await tba.release("C-RESERVED", GROUP)
    assert await grants(desk).get("zoe", GROUP) is None
    assert await jobs_of(desk, reserved) == {}

    grant = await granted(desk)  # a confirmed grant; another case reserves the same access
    await tba.reserve("C-AGAIN", "zoe", GROUP, 30, key="C-AGAIN:0")
    again = await grants(desk).get("zoe", GROUP)
    assert again is not None
    assert again.supersedes == grant
    await tba.release("C-AGAIN", GROUP)  # the second add changed nothing: the first stands
    assert await grants(desk).get("zoe", GROUP) == grant
    assert "access.expire" in await jobs_of(desk, grant)

    await tba.reserve("C-LONGER", "zoe", GROUP, 30, key="C-LONGER:0")
    await tba.confirm("C-LONGER", GROUP, "A-LONGER")
    longer = await grants(desk).get("zoe", GROUP)
    assert longer is not None
    assert (longer.case, longer.action, longer.supersedes) == ("C-LONGER", "A-LONGER", None)
    assert await jobs_of(desk, grant) == {}  # the first grant's end no longer governs
    assert "access.expire" in await jobs_of(desk, longer)
    await tba.release("C-LONGER", GROUP)  # a confirmed grant is the desk's: kept
    assert await grants(desk).get("zoe", GROUP) == longer


async def test_the_overdue_bound_is_a_setting(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ITDESK_ACCESS_OVERDUE_MINUTES", "15")
    desk, outage = await desk_through_outage(store, load_settings())
    grant = await granted(desk)
    outage.removals_down = True
    await until_due(desk, grant)
    await desk.wait(minutes=14)
    assert (await desk.case("zoe")).last(AccessOverdue) is None
    await desk.wait(minutes=1)
    assert (await desk.case("zoe")).last(AccessOverdue) is not None
    with pytest.raises(SettingsError, match="ITDESK_ACCESS_OVERDUE_MINUTES"):
        load_settings(access_overdue_minutes=0)


def test_removal_backoff_has_deterministic_jitter_and_an_upper_bound() -> None:
    job = "access-expire:C-1:pipeline-reports"
    for attempts in range(1, 40):
        nominal = min(60 * 2 ** (attempts - 1), 3600)
        delay = REMOVAL_RETRY.delay(attempts, job).total_seconds()
        assert 0.8 * nominal <= delay <= min(1.2 * nominal, 3600)
        assert REMOVAL_RETRY.delay(attempts, job) == REMOVAL_RETRY.delay(attempts, job)
    spread = {REMOVAL_RETRY.delay(3, f"access-expire:C-{n}:g") for n in range(50)}
    assert len(spread) > 40  # grants that failed together do not all come back together
    capped = {REMOVAL_RETRY.delay(30, f"access-expire:C-{n}:g") for n in range(50)}
    assert len(capped) > 40  # spread below the cap too
    assert all(timedelta(minutes=48) <= d <= timedelta(hours=1) for d in capped)
    assert REMOVAL_RETRY.delay(100_000, job) <= timedelta(hours=1)  # forever, no overflow
    assert REMOVAL_RETRY.max_attempts is None
