"""One step against a backend, from intent to a known outcome.

The intent is written before the backend is touched; then the write; then the backend's state
is read back, and only what it shows is recorded. A write whose answer is lost (a timeout, a
dropped connection: `UNKNOWN_OUTCOME`) is unknown until read back. A step cut short by a dead
process is settled the same way: the backend shows the change (record it), or does not (the
write never took effect: with the state read, it is made now, once), or cannot be read yet
(`StillChecking`), or cannot show it at all (`Unverifiable`: a human checks)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.clock import Clock
from bot.ports import OutcomeUnknown
from bot.state.actions import ActionIntent, ActionRepository
from skills.base import AnySkill, SkillContext, SkillFailed, SkillResult, outcome
from skills.registry import SkillRegistry

log = structlog.get_logger("itdesk.actions")

# A write that raised one of these may or may not have taken effect.
UNKNOWN_OUTCOME = (TimeoutError, ConnectionError, OutcomeUnknown)
READ_BACK_ATTEMPTS = 3  # reads of the backend after a write, within the turn


class StillChecking(Exception):
    """A write's answer was lost and the backend could not be read back yet. The intent
    stays open: the case stays `executing` and recovery reads again later."""

    def __init__(self, skill: str, intent: ActionIntent) -> None:
        super().__init__(f"{skill}: outcome unknown ({intent.error or 'interrupted'})")
        self.skill = skill
        self.intent = intent


class Unverifiable(SkillFailed):
    """A write's answer was lost and the backend cannot show whether it took effect (a link
    sent): a human checks, told what is known."""

    def __init__(self, skill: str, intent: ActionIntent) -> None:
        why = intent.error or "interrupted"
        super().__init__(
            f"{skill} may or may not have happened: the answer was lost ({why}) and the "
            "backend cannot show it"
        )
        self.skill = skill
        self.intent = intent


@dataclass(frozen=True)
class OutcomeDeps:
    actions: ActionRepository
    skills: SkillRegistry
    clock: Clock
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)


class StepOutcomes:
    def __init__(self, deps: OutcomeDeps) -> None:
        self._d = deps

    async def first(
        self, skill: AnySkill, sctx: SkillContext, params: Any, case_id: str, undo_of: str | None
    ) -> SkillResult:
        """Intent, write, read back. The intent is written before the backend is touched,
        so a crash at any point after it leaves something for recovery to settle."""
        d = self._d
        await skill.preconditions(sctx, params)
        now = d.clock.now()
        intent = ActionIntent(key=sctx.idempotency_key, case_id=case_id, skill=skill.name,
                              params=skill.args(params), undo_of=undo_of,
                              before=await skill.verify(sctx, params), at=now)  # fmt: skip
        await d.actions.intend(intent)
        try:
            result = await skill.execute(sctx, params)
        except UNKNOWN_OUTCOME as exc:
            log.warning("action.outcome_unknown", skill=skill.name, error=describe(exc))
            return await self.settle(skill, sctx, params,
                                     await d.actions.unknown(intent, describe(exc)))  # fmt: skip
        except Exception:
            await d.actions.abandon(intent.key)  # refused, or failed before it changed anything
            raise
        return await self._confirmed(skill, sctx, params, intent, result)

    async def settle(
        self, skill: AnySkill, sctx: SkillContext, params: Any, intent: ActionIntent
    ) -> SkillResult:
        """The outcome of a step whose answer was lost, or whose process died: what the
        backend shows, never a second act."""
        there = await self.read_back(skill, sctx, params, intent)
        if there:
            if intent.before:  # it was so before the step began: the step changed nothing
                return await skill.execute(sctx, params)
            step = self._d.skills.step(skill.name, skill.args(params))
            return SkillResult(True, outcome("recovered", step=step))
        if skill.readback == "receipt":
            raise Unverifiable(skill.name, intent)
        try:  # read back and not there: the write never took effect, so it is made now
            result = await skill.execute(sctx, params)
        except UNKNOWN_OUTCOME as exc:
            await self._d.actions.unknown(intent, describe(exc))
            raise StillChecking(skill.name, intent) from exc
        except Exception:
            await self._d.actions.abandon(intent.key)
            raise
        return await self._confirmed(skill, sctx, params, intent, result)

    async def _confirmed(
        self,
        skill: AnySkill,
        sctx: SkillContext,
        params: Any,
        intent: ActionIntent,
        result: SkillResult,
    ) -> SkillResult:
        if not await self.read_back(skill, sctx, params, intent):
            await self._d.actions.abandon(intent.key)
            raise SkillFailed(f"{skill.name} did not verify")
        return result

    async def read_back(
        self, skill: AnySkill, sctx: SkillContext, params: Any, intent: ActionIntent
    ) -> bool:
        """Whether the backend shows the wanted state, asked a few times before giving up
        (`StillChecking`)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            stop=stop_after_attempt(READ_BACK_ATTEMPTS),
            wait=wait_exponential(multiplier=0.2, max=2),
            sleep=self._d.sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await skill.verify(sctx, params)
        except Exception as exc:
            log.warning("action.read_back_failed", skill=skill.name, error=describe(exc))
            raise StillChecking(skill.name, intent) from exc
        raise AssertionError("unreachable")  # pragma: no cover


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
