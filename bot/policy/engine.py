"""The loaded policy set: parsed once, evaluated in process with cedarpy, and loaded again
when a policy file changes (looked at no more than once a second). A change that does not
check keeps the policies in force and is logged for the operator."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy
import structlog

from bot.policy.files import (
    Meta,
    PolicyError,
    PolicyFiles,
    check_texts,
    default_policy_dir,
    fingerprint,
    policy_metas,
    read,
)
from bot.policy.questions import Answer, Question
from bot.policy.requests import Decision, PolicyRequest, decision
from skills import default_skills
from skills.registry import SkillRegistry

log = structlog.get_logger("itdesk.policy")


@dataclass(frozen=True)
class _Loaded:
    files: PolicyFiles
    meta: dict[str, Meta]
    policies: Any  # cedarpy.PolicySet
    schema: Any  # cedarpy.Schema
    fingerprint: tuple[tuple[str, int, int], ...]


class PolicyEngine:
    """The policy set of one folder, against the schema with the skills' actions."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        skills: SkillRegistry | None = None,
        recheck_every: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory or default_policy_dir()
        self._skills = skills or default_skills()
        self._recheck_every = recheck_every
        self._monotonic = monotonic
        self._loaded = self._load()
        self._checked_at = monotonic()
        self.evaluations = 0  # how many questions were asked (the bench reads it)

    @property
    def text(self) -> str:
        return self._loaded.files.policies

    @property
    def schema(self) -> str:
        return self._loaded.files.schema

    def decide(self, req: PolicyRequest) -> Decision:
        """The route policy gives a request at this gate."""
        request, found = req.cedar()
        allowed, matched, errors = self._evaluate(request, found)
        return decision(req, allowed, matched, errors)

    def ask(self, question: Question) -> Answer:
        """One of the desk's own questions; an evaluation error is a no."""
        request, found = question.cedar()
        allowed, matched, errors = self._evaluate(request, found)
        if errors:
            log.error("policy.evaluation_error", action=question.action)
            return Answer(False)
        return Answer(allowed, tuple(matched))

    def _evaluate(
        self, request: dict[str, Any], found: list[dict[str, Any]]
    ) -> tuple[bool, list[Meta], bool]:
        loaded = self._current()
        self.evaluations += 1
        result = cedarpy.is_authorized(request, loaded.policies, found, schema=loaded.schema)
        matched = [loaded.meta[pid] for pid in result.diagnostics.reasons if pid in loaded.meta]
        return bool(result.allowed), matched, bool(result.diagnostics.errors)

    def _current(self) -> _Loaded:
        now = self._monotonic()
        if now - self._checked_at >= self._recheck_every:
            self._checked_at = now
            self._reload_if_changed()
        return self._loaded

    def _reload_if_changed(self) -> None:
        try:
            if fingerprint(self.directory) == self._loaded.fingerprint:
                return
            self._loaded = self._load()
            log.info("policy.reloaded", directory=str(self.directory))
        except (PolicyError, OSError) as exc:
            log.error("policy.reload_failed", directory=str(self.directory), error=str(exc))

    def _load(self) -> _Loaded:
        stamp = fingerprint(self.directory)
        files = read(self.directory, self._skills)
        problems = check_texts(files)
        if problems:
            raise PolicyError("invalid policies:\n" + "\n".join(f"  {p}" for p in problems))
        return _Loaded(
            files=files,
            meta=policy_metas(files.policies),
            policies=cedarpy.PolicySet.from_str(files.policies),
            schema=cedarpy.Schema.from_str(files.schema),
            fingerprint=stamp,
        )
