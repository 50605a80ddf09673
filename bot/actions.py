"""Running skills for a case: once per idempotency key, the audit record of every executed
action, sagas with compensation, and Undo. How one step reaches a known outcome (intent,
write, read-back) is `bot.outcomes`; a case a dead process left is resumed by `bot.recovery`."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from bot.cases import Case
from bot.clock import Clock
from bot.context import TurnContext
from bot.events import ActionRecord, SagaCompensated
from bot.observability import Metrics
from bot.outcomes import OutcomeDeps, StepOutcomes, StillChecking
from bot.plans import PlanStep
from bot.ports import Devices, Directory, Tickets
from bot.scheduler import Scheduler
from bot.state.actions import ActionIntent, ActionRepository, StoredAction
from bot.state.receipts import ReceiptBook
from skills.base import PreconditionFailed, SkillContext
from skills.registry import SkillRegistry

log = structlog.get_logger("itdesk.actions")

RECOVER = "actions.recover"  # the job that finishes what a dead process left (bot.recovery)
RECOVER_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class Provenance:
    """Why an action may run: who asked, who approved, the policies that allowed it and the
    verification that preceded it. Every executed action records all four."""

    requested_by: str
    approved_by: tuple[str, ...]
    policy: tuple[str, ...]
    verification: dict[str, Any] | None


@dataclass(frozen=True)
class Executed:
    action_id: str
    skill: str
    args: dict[str, Any]
    changed: bool  # False: the backend was already as wanted
    summary: str  # what the person is told it did
    inverse: str | None


class SagaFailed(Exception):
    """A step failed; the steps before it were compensated (undone) where they could be.
    `left` names those still in effect (no inverse, or the undo itself failed): a human must
    look at them."""

    def __init__(
        self, step: str, cause: Exception, compensated: list[str], left: list[str] | None = None
    ) -> None:
        super().__init__(f"{step} failed: {cause}")
        self.step = step
        self.cause = cause
        self.compensated = compensated
        self.left = left or []


@dataclass(frozen=True)
class ActionDeps:
    skills: SkillRegistry
    actions: ActionRepository
    directory: Directory
    devices: Devices
    receipts: ReceiptBook
    tickets: Tickets
    clock: Clock
    metrics: Metrics
    scheduler: Scheduler
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)


class ActionRunner:
    """Executes plan steps through the skill registry."""

    def __init__(self, deps: ActionDeps) -> None:
        self._d = deps
        self._outcomes = StepOutcomes(
            OutcomeDeps(deps.actions, deps.skills, deps.clock, deps.sleep)
        )

    async def _skill_context(self, case: Case, key: str, requester: str) -> SkillContext:
        d = self._d
        person = await d.directory.person(requester)
        if person is None:
            raise PreconditionFailed("unknown_user", f"no directory user {requester}")
        return SkillContext(
            directory=d.directory,
            devices=d.devices,
            receipts=d.receipts.of(key),
            tickets=d.tickets,
            clock=d.clock,
            requester=person,
            case_id=case.id,
            idempotency_key=key,
        )

    async def run(
        self,
        ctx: TurnContext,
        case: Case,
        step: PlanStep,
        why: Provenance,
        *,
        key: str,
        undo_of: str | None = None,
        keep_open: bool = False,
    ) -> tuple[Case, Executed]:
        """Run one step once: a repeated key returns the first run's record, no second act;
        a key whose run was cut short is settled by reading the backend, not run again.
        With `keep_open` its intent stays open until `finished` (what follows it is the
        caller's, and recovery must find it if the process dies first)."""
        d = self._d
        done, intent = await d.actions.state_of(key)
        done = done or _recorded(case, key)
        if done is not None:  # (the case may hold the record if the run died right after it)
            await d.actions.save(done, case_id=case.id, at=d.clock.now(), close=not keep_open)
            return case, _executed(done)
        skill = d.skills.get(step.skill)
        params = skill.Params.model_validate(step.params)
        sctx = await self._skill_context(case, key, why.requested_by)
        started = time.perf_counter()
        try:
            if intent is None:
                result = await self._outcomes.first(skill, sctx, params, case.id, undo_of)
            else:
                result = await self._outcomes.settle(skill, sctx, params, intent)
        except PreconditionFailed:
            d.metrics.actions.labels(skill=skill.name, result="precondition").inc()
            raise
        except StillChecking:
            d.metrics.actions.labels(skill=skill.name, result="unknown").inc()
            raise
        except Exception:
            d.metrics.actions.labels(skill=skill.name, result="failed").inc()
            raise
        finally:
            d.metrics.action_seconds.labels(skill=skill.name).observe(time.perf_counter() - started)
        d.metrics.actions.labels(skill=skill.name, result="ok").inc()
        inverse_params = skill.undo_params(params) if skill.inverse else None
        record = ActionRecord(
            action_id="A-" + secrets.token_hex(4).upper(),
            skill=skill.name,
            args=skill.args(params),
            requested_by=why.requested_by,
            approved_by=list(why.approved_by),
            policy=list(why.policy),
            verification=why.verification,
            idempotency_key=key,
            changed=result.changed,
            summary=d.skills.render(result.summary),
            undo_of=undo_of,
            inverse=skill.inverse,
            inverse_params=inverse_params.model_dump(mode="json") if inverse_params else None,
        )
        case = await ctx.record(case, record, actor="desk")
        await d.actions.save(record, case_id=case.id, at=d.clock.now(), close=not keep_open)
        log.info("action.executed", skill=skill.name, action_id=record.action_id, case=case.id,
                 changed=result.changed)  # fmt: skip
        return case, _executed(record)

    async def run_saga(
        self, ctx: TurnContext, case: Case, steps: list[PlanStep], why: Provenance
    ) -> tuple[Case, list[Executed]]:
        """Run steps in order; if one fails, undo the ones before it, newest first."""
        done: list[Executed] = []
        for index, step in enumerate(steps):
            try:
                case, executed = await self.run(ctx, case, step, why, key=step_key(case.id, index))
            except StillChecking:
                raise  # nothing is known to have failed: the steps done stay, the case waits
            except Exception as exc:
                compensated, left = await self._compensate(ctx, case, done, why)
                compensation = SagaCompensated(
                    failed_step=step.skill, error=str(exc)[:200], undone=compensated, left=left
                )
                case = await ctx.record(case, compensation, actor="desk")
                raise SagaFailed(step.skill, exc, compensated, left) from exc
            done.append(executed)
        return case, done

    async def _compensate(
        self, ctx: TurnContext, case: Case, done: list[Executed], why: Provenance
    ) -> tuple[list[str], list[str]]:
        """Undo what the saga did, newest first: (undone, still in effect). One undo that
        fails does not stop the others; what it leaves behind is reported, never hidden."""
        undone: list[str] = []
        left: list[str] = []
        for executed in reversed(done):
            if not executed.changed:
                continue
            if executed.inverse is None:
                left.append(executed.skill)
                continue
            try:
                case, _ = await self.undo(ctx, case, executed.action_id, why)
                await self.finished_undo(executed.action_id)
            except Exception:
                log.exception("saga.compensation_failed", skill=executed.skill, case=case.id)
                left.append(executed.skill)
                continue
            undone.append(executed.skill)
        return undone, left

    async def undo(
        self, ctx: TurnContext, case: Case, action_id: str, why: Provenance
    ) -> tuple[Case, Executed]:
        record = await self.record(action_id)
        if record is None or not record.inverse:
            raise LookupError(f"no undoable action {action_id}")
        step = PlanStep(skill=record.inverse, params=record.inverse_params or {})
        await self._recover_soon()  # an Undo cut short is found by its open intent
        return await self.run(ctx, case, step, why, key=_undo_key(action_id), undo_of=action_id,
                              keep_open=True)  # fmt: skip

    async def in_effect(self, key: str) -> str | None:
        """The action id of the step run under `key` if it changed the backend and has not
        been undone since; None if it changed nothing, never ran or was undone (and also while
        its outcome is unknown: the caller tells that case apart by its open intent)."""
        done, _ = await self._d.actions.state_of(key)
        if done is None or not done.changed:
            return None
        undone, _ = await self._d.actions.state_of(_undo_key(done.action_id))
        return None if undone is not None else done.action_id

    async def unsettled(self, key: str) -> bool:
        """Whether the step under `key` was begun and its outcome is not known yet."""
        done, intent = await self._d.actions.state_of(key)
        return done is None and intent is not None

    async def finished_undo(self, action_id: str) -> None:
        """What follows the Undo of `action_id` is done too: its intent is closed."""
        await self._d.actions.abandon(_undo_key(action_id))

    async def record(self, action_id: str) -> StoredAction | None:
        """An executed action's record, by its id."""
        return await self._d.actions.get(action_id)

    async def acting(self, case_id: str) -> None:
        """The case is about to enter `executing`: until `acted`, recovery can find it, and a
        recovery sweep is due soon in case this process dies."""
        await self._d.actions.acting(case_id, self._d.clock.now())
        await self._recover_soon()

    async def acted(self, case_id: str) -> None:
        await self._d.actions.acted(case_id)

    async def _recover_soon(self) -> None:
        d = self._d
        due = d.clock.now() + RECOVER_AFTER
        await d.scheduler.schedule(RECOVER, due, {}, job_id=RECOVER, if_absent=True)

    async def undos_left(self, before: datetime) -> list[ActionIntent]:
        """Undos begun before `before` and never finished (a process died in one)."""
        return [i for i in await self._d.actions.open_intents() if i.undo_of and i.at < before]

    async def left_acting(self, before: datetime) -> list[str]:
        """Cases in `executing` since before `before`: a live turn holds its conversation,
        any other was left there by a process that died."""
        return await self._d.actions.acting_since(before)


def step_key(case_id: str, index: int) -> str:
    """The idempotency key of a case's saga step."""
    return f"{case_id}:{index}"


def _undo_key(action_id: str) -> str:
    return f"undo:{action_id}"


def _recorded(case: Case, key: str) -> ActionRecord | None:
    """The record of `key` in the case's own events."""
    return next((r for _, r in reversed(case.all(ActionRecord)) if r.idempotency_key == key),
                None)  # fmt: skip


def _executed(record: ActionRecord) -> Executed:
    return Executed(
        action_id=record.action_id,
        skill=record.skill,
        args=record.args,
        changed=record.changed,
        summary=record.summary,
        inverse=record.inverse,
    )
