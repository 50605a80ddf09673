"""Running skills for a case: idempotency, verification of the result, the audit record of
every executed action, sagas with compensation, and Undo."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import structlog

from bot.cases import Case
from bot.clock import Clock
from bot.context import TurnContext
from bot.events import ActionRecord, SagaCompensated
from bot.observability import Metrics
from bot.plans import PlanStep
from bot.ports import Devices, Directory, Tickets
from bot.state.actions import ActionRepository, StoredAction
from bot.state.receipts import ReceiptBook
from skills.base import PreconditionFailed, SkillContext, SkillFailed
from skills.registry import SkillRegistry

log = structlog.get_logger("itdesk.actions")


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


class ActionRunner:
    """Executes plan steps through the skill registry."""

    def __init__(self, deps: ActionDeps) -> None:
        self._d = deps

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
    ) -> tuple[Case, Executed]:
        """Run one step once: a repeated key returns the first run's record, no second act."""
        d = self._d
        done = await d.actions.done_under(key)
        if done is not None:
            return case, _executed(done)
        skill = d.skills.get(step.skill)
        params = skill.Params.model_validate(step.params)
        sctx = await self._skill_context(case, key, why.requested_by)
        started = time.perf_counter()
        try:
            await skill.preconditions(sctx, params)
            result = await skill.execute(sctx, params)
            if not await skill.verify(sctx, params):
                raise SkillFailed(f"{skill.name} did not verify")
        except PreconditionFailed:
            d.metrics.actions.labels(skill=skill.name, result="precondition").inc()
            raise
        except Exception:
            d.metrics.actions.labels(skill=skill.name, result="failed").inc()
            raise
        finally:
            d.metrics.action_seconds.labels(skill=skill.name).observe(time.perf_counter() - started)
        d.metrics.actions.labels(skill=skill.name, result="ok").inc()
        action_id = "A-" + secrets.token_hex(4).upper()
        inverse_params = skill.undo_params(params) if skill.inverse else None
        record = ActionRecord(
            action_id=action_id,
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
        await d.actions.save(record, case_id=case.id, at=d.clock.now())
        log.info(
            "action.executed",
            skill=skill.name,
            action_id=action_id,
            case=case.id,
            changed=result.changed,
        )
        return case, _executed(record)

    async def run_saga(
        self, ctx: TurnContext, case: Case, steps: list[PlanStep], why: Provenance
    ) -> tuple[Case, list[Executed]]:
        """Run steps in order; if one fails, undo the ones before it, newest first."""
        done: list[Executed] = []
        for index, step in enumerate(steps):
            try:
                case, executed = await self.run(ctx, case, step, why, key=f"{case.id}:{index}")
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
        return await self.run(ctx, case, step, why, key=f"undo:{action_id}", undo_of=action_id)

    async def record(self, action_id: str) -> StoredAction | None:
        """An executed action's record, by its id."""
        return await self._d.actions.get(action_id)


def _executed(record: ActionRecord) -> Executed:
    return Executed(
        action_id=record.action_id,
        skill=record.skill,
        args=record.args,
        changed=record.changed,
        summary=record.summary,
        inverse=record.inverse,
    )
