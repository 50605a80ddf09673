"""The intent/read-back contract: every backend's writes go through the desk's one path (intent
written, backend written, state read back, record kept), so a lost answer or a process that
died mid-step is settled by reading the backend, never by acting twice. A backend passes when
its reads show its writes at once (or, for a link, the desk's receipt does)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from auditing import AUDIT_KEY
from backends import ORG, Backend

from bot.actions import ActionDeps, ActionRunner, Provenance
from bot.cases import Case
from bot.clock import ManualClock
from bot.context import CaseLog, TurnContext
from bot.models import Turn
from bot.observability import Metrics
from bot.plans import PlanStep
from bot.ports import OutcomeUnknown, Unsupported
from bot.scheduler import Scheduler
from bot.state.actions import ActionIntent, ActionRepository
from bot.state.audit import AuditLog
from bot.state.cases import CaseRepository
from bot.state.receipts import ReceiptBook
from bot.store import Store
from skills import default_skills

# (skill, params, the port and method that writes, the capability it needs)
STEPS = [
    ("unlock_account", {"user": "ana"}, "directory", "set_locked", "unlock"),
    ("add_to_group", {"user": "ben", "group": "reports"}, "directory", "add_member",
     "group_membership"),
    ("remove_from_group", {"user": "ben", "group": "staff"}, "directory", "remove_member",
     "group_membership"),
    ("disable_account", {"user": "ben"}, "directory", "set_disabled", "disable"),
    ("lock_device", {"device": "LT-2", "user": "ben"}, "devices", "lock", "device_lock"),
    ("install_software", {"device": "LT-2", "user": "ben", "software": "browser"}, "devices",
     "install", "install"),
]  # fmt: skip
IDS = [s[0] for s in STEPS]


class Desk:
    """The action runner over one backend's ports, and a case to act for."""

    def __init__(self, backend: Backend, store: Store) -> None:
        assert ORG.now is not None
        self.clock = ManualClock(ORG.now)
        self.ledger = ActionRepository(store)
        self.cases = CaseRepository(store, AuditLog(store, AUDIT_KEY), self.clock)
        self.runner = ActionRunner(ActionDeps(
            skills=default_skills(), actions=self.ledger, directory=backend.directory,
            devices=backend.devices, receipts=ReceiptBook(store), tickets=backend.tickets,
            clock=self.clock, metrics=Metrics(), scheduler=Scheduler(store, self.clock),
            sleep=_no_pause,
        ))  # fmt: skip
        self.log = CaseLog(self.cases, Metrics())

    async def case(self, requester: str) -> Case:
        return await self.cases.open(
            requester=requester,
            conversation=f"dm:{requester}",
            platform="contract",
            text="contract test",
        )

    async def run(self, case: Case, skill: str, params: dict[str, Any]) -> Any:
        person = await self.runner._d.directory.person(case.requester)
        assert person is not None
        turn = Turn(platform="contract", event_id="e1", user_id=person.username,
                    conversation_id=case.conversation)  # fmt: skip
        ctx = TurnContext(turn=turn, person=person, log=self.log)
        why = Provenance(requested_by=case.requester, approved_by=(), policy=("contract",),
                         verification=None)  # fmt: skip
        return await self.runner.run(ctx, case, PlanStep(skill=skill, params=params), why,
                                     key=f"{case.id}:0")  # fmt: skip


async def _no_pause(seconds: float) -> None:
    return None


def losing(port: Any, method: str, *, applied: bool) -> list[int]:
    """The port's write loses its first answer: after the change is made, or before."""
    calls: list[int] = []
    real: Callable[..., Awaitable[Any]] = getattr(port, method)

    async def write(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            if applied:
                await real(*args, **kw)
            raise OutcomeUnknown("the answer was lost")
        return await real(*args, **kw)

    setattr(port, method, write)
    return calls


async def refused(backend: Backend, skill: str, params: dict[str, Any], port: str,
                  method: str, capability: str) -> bool:  # fmt: skip
    """Where the backend lacks the step's capability there is no answer to lose: its write
    is refused as `Unsupported` naming the capability (True). False where it has it."""
    if capability not in backend.lacks:
        return False
    with pytest.raises(Unsupported) as caught:
        await getattr(getattr(backend, port), method)(*_write_args(skill, params))
    assert caught.value.capability == capability
    return True


@pytest.mark.parametrize("applied", [True, False], ids=["applied", "not-applied"])
@pytest.mark.parametrize(("skill", "params", "port", "method", "capability"), STEPS, ids=IDS)
async def test_a_lost_answer_is_read_back_and_the_change_made_once(
    backend: Backend, store: Store, skill: str, params: dict[str, Any], port: str,
    method: str, capability: str, applied: bool,
) -> None:  # fmt: skip
    if await refused(backend, skill, params, port, method, capability):
        return
    desk = Desk(backend, store)
    case = await desk.case("mo")
    calls = losing(getattr(backend, port), method, applied=applied)
    case, executed = await desk.run(case, skill, params)
    assert executed.changed
    assert len(calls) == (1 if applied else 2)  # read back; written again only if not there
    assert await desk.ledger.open_intents() == []
    again = await desk.run(case, skill, params)
    assert again[1].action_id == executed.action_id  # the key's record, no second act
    assert len(calls) == (1 if applied else 2)


@pytest.mark.parametrize(("skill", "params", "port", "method", "capability"), STEPS, ids=IDS)
async def test_an_intent_left_by_a_dead_process_is_settled_by_reading_the_backend(
    backend: Backend, store: Store, skill: str, params: dict[str, Any], port: str,
    method: str, capability: str,
) -> None:  # fmt: skip
    if await refused(backend, skill, params, port, method, capability):
        return
    desk = Desk(backend, store)
    case = await desk.case("mo")
    # the dead process wrote its intent and the backend took the write; nothing else
    intent = ActionIntent(key=f"{case.id}:0", case_id=case.id, skill=skill, params=params,
                          before=False, at=desk.clock.now())  # fmt: skip
    await desk.ledger.intend(intent)
    target = getattr(backend, port)
    await getattr(target, method)(*_write_args(skill, params))
    calls = losing(target, method, applied=True)
    case, executed = await desk.run(case, skill, params)
    assert executed.changed
    assert calls == []
    assert await desk.ledger.open_intents() == []


def _write_args(skill: str, params: dict[str, Any]) -> tuple[Any, ...]:
    return {
        "unlock_account": (params["user"], False),
        "add_to_group": (params.get("user"), params.get("group")),
        "remove_from_group": (params.get("user"), params.get("group")),
        "disable_account": (params["user"], True),
        "lock_device": (params.get("device"),),
        "install_software": (params.get("device"), params.get("software")),
    }[skill]
